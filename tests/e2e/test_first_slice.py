"""A member's join travels gateway → members → Kafka → metrics, on the real stack."""

import uuid

import httpx
import pytest

from deploy.local.stack import Stack
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def _community(api: httpx.Client, **overrides: str) -> dict:  # type: ignore[type-arg]
    body = {"name": "读书会", "purpose": "interest", "timezone": "Asia/Shanghai"} | overrides
    response = api.post("/v1/communities", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _join(api: httpx.Client, community_id: str, external_id: str, **headers: str) -> httpx.Response:
    return api.post(
        f"/v1/communities/{community_id}/members",
        headers=headers,
        json={
            "display_name": "林晓",
            "identities": [{"platform": "wechat", "external_id": external_id}],
        },
    )


def _members_total(api: httpx.Client, community_id: str) -> int | None:
    response = api.get(f"/v1/metrics/communities/{community_id}/overview")
    return response.json()["members_total"] if response.status_code == 200 else None


def test_a_join_reaches_the_metrics_read_model(api: httpx.Client) -> None:
    community = _community(api)
    assert community["id"].startswith("cmt_")
    fetched = api.get(f"/v1/communities/{community['id']}")
    assert fetched.status_code == 200 and fetched.json() == community
    assert eventually(lambda: _members_total(api, community["id"]) == 0)

    joined = _join(api, community["id"], "wx_linxiao")
    assert joined.status_code == 201, joined.text
    assert joined.json()["identities"] == [{"platform": "wechat", "external_id": "wx_linxiao"}]
    assert eventually(lambda: _members_total(api, community["id"]) == 1)


def test_joining_again_with_a_known_identity_returns_the_same_member(api: httpx.Client) -> None:
    community = _community(api)
    first = _join(api, community["id"], "wx_same")
    again = _join(api, community["id"], "wx_same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert eventually(lambda: _members_total(api, community["id"]) == 1)


def test_an_idempotency_key_makes_a_retried_create_create_once(api: httpx.Client) -> None:
    key = uuid.uuid4().hex
    body = {"name": "夜话会", "purpose": "networking", "timezone": "Europe/Berlin"}
    first = api.post("/v1/communities", json=body, headers={"Idempotency-Key": key})
    retry = api.post("/v1/communities", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"
    reused = api.post(
        "/v1/communities", json=body | {"name": "another"}, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")


@pytest.mark.parametrize("authorization", [None, "Bearer qy_not-a-key", "Basic abc", "Bearer"])
def test_calls_without_a_valid_key_are_401_problems(
    stack: Stack, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(stack.url("gateway") + "/v1/communities/cmt_x", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_another_workspace_cannot_see_or_touch_a_community(
    api: httpx.Client, other_api: httpx.Client
) -> None:
    community = _community(api)
    assert other_api.get(f"/v1/communities/{community['id']}").status_code == 404
    assert _join(other_api, community["id"], "wx_intruder").status_code == 404
    assert other_api.get(f"/v1/metrics/communities/{community['id']}/overview").status_code == 404
    assert api.get(f"/v1/communities/{community['id']}").status_code == 200


def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(api: httpx.Client) -> None:
    response = api.post(
        "/v1/communities", json={"purpose": "interest", "timezone": "Asia/Shanghai"}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["name"]
    for bad in ({"purpose": "gambling"}, {"timezone": "Asia/Atlantis"}, {"name": ""}):
        body = {"name": "x", "purpose": "interest", "timezone": "UTC"} | bad
        assert api.post("/v1/communities", json=body).status_code == 422
    community = _community(api)
    no_identity = api.post(
        f"/v1/communities/{community['id']}/members", json={"display_name": "x", "identities": []}
    )
    assert no_identity.status_code == 422
    bad_platform = api.post(
        f"/v1/communities/{community['id']}/members",
        json={"display_name": "x", "identities": [{"platform": "icq", "external_id": "1"}]},
    )
    assert bad_platform.status_code == 422
    assert eventually(lambda: _members_total(api, community["id"]) == 0)


def test_unknown_paths_and_oversized_bodies_are_problems(api: httpx.Client) -> None:
    assert api.get("/v1/nowhere").status_code == 404
    huge = api.post(
        "/v1/communities", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413


def test_services_refuse_calls_that_bypass_the_gateway(stack: Stack) -> None:
    response = httpx.get(
        stack.url("members") + "/v1/communities/cmt_x", headers={"X-Qunyun-Workspace-Id": "ws_demo"}
    )
    assert response.status_code == 401


def test_prometheus_sees_route_templates_never_raw_ids(api: httpx.Client, stack: Stack) -> None:
    community = _community(api)
    api.get(f"/v1/communities/{community['id']}")
    exposition = httpx.get(stack.url("members") + "/metrics").text
    assert 'route="/v1/communities/{community_id}"' in exposition
    assert community["id"] not in exposition
    assert "qunyun_outbox_backlog" in exposition


def test_the_gateway_serves_one_openapi_document_for_the_public_api(stack: Stack) -> None:
    doc = httpx.get(stack.url("gateway") + "/openapi.json").json()
    assert "/v1/communities" in doc["paths"]
    assert "/v1/metrics/communities/{community_id}/overview" in doc["paths"]
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_a_members_service_killed_between_commit_and_publish_publishes_after_restart(
    api: httpx.Client, stack: Stack
) -> None:
    community = _community(api)
    assert eventually(lambda: _members_total(api, community["id"]) == 0)
    stack.stop("members")
    stack.extra_env["members"] = {"QUNYUN_OUTBOX_RELAY_ENABLED": "false"}
    try:
        stack.start("members")
        assert _join(api, community["id"], "wx_crash").status_code == 201
        stack.kill("members")  # committed, never published
    finally:
        stack.extra_env.pop("members")
    stack.start("members")
    assert eventually(lambda: _members_total(api, community["id"]) == 1)
