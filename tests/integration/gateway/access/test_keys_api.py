"""`/v1/api-keys`: made with scopes and shown once, listed by pages, rotated and revoked
(at once on this replica), each workspace behind its own wall."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.gateway.access.conftest import bearer

pytestmark = pytest.mark.integration


def _create(gateway: TestClient, **fields: object) -> dict[str, Any]:
    answer = gateway.post("/v1/api-keys", json={"name": "bot", "scopes": ["members:read"]} | fields)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/v1/api-keys/{answer.json()['id']}"
    return answer.json()


def test_a_key_is_shown_once_and_holds_the_scopes_it_was_given(gateway: TestClient) -> None:
    created = _create(gateway, name="content bot", scopes=["content:read", "content:write"])
    assert created["key"].startswith("qy_") and created["prefix"] == created["key"][:8]
    assert created["scopes"] == ["content:read", "content:write"]
    assert created["last_used_at"] is None and created["revoked_at"] is None
    read = gateway.get(f"/v1/api-keys/{created['id']}").json()
    assert "key" not in read and read["name"] == "content bot"

    mine = bearer(created["key"])
    assert gateway.post("/v1/contents/x/submit", headers=mine, json={}).status_code == 200
    refused = gateway.get("/v1/communities", headers=mine)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "members:read"
    # It used the key: the use is noted (to within a minute).
    assert gateway.get(f"/v1/api-keys/{created['id']}").json()["last_used_at"] is not None


@pytest.mark.parametrize(
    ("scopes", "field"),
    [(["members:read", "members:delete"], "scopes.1"), ([], "scopes"), ("admin", "scopes")],
)
def test_a_bad_scope_is_a_422_naming_the_field(
    gateway: TestClient, scopes: object, field: str
) -> None:
    answer = gateway.post("/v1/api-keys", json={"name": "x", "scopes": scopes})
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/validation-error")
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_an_idempotent_retry_makes_one_key_and_never_shows_it_again(gateway: TestClient) -> None:
    headers = {"Idempotency-Key": "make-the-crm-key"}
    body = {"name": "crm", "scopes": ["members:write"]}
    first = gateway.post("/v1/api-keys", json=body, headers=headers)
    again = gateway.post("/v1/api-keys", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["key"].startswith("qy_")
    assert again.json()["id"] == first.json()["id"] and again.json()["key"] is None
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]


def test_keys_are_listed_by_pages_without_their_secrets(gateway: TestClient) -> None:
    made = [_create(gateway, name=f"page {i}")["id"] for i in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        page = gateway.get("/v1/api-keys", params={"limit": 2, "cursor": cursor}).json()
        assert all("key" not in k and "key_hash" not in k for k in page["data"])
        seen += [k["id"] for k in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i for i in seen if i in made] == made  # oldest first, none twice
    assert len(seen) == len(set(seen))
    gateway.post(f"/v1/api-keys/{made[0]}/revoke")
    revoked = {k["id"] for k in gateway.get("/v1/api-keys?revoked=true&limit=200").json()["data"]}
    live = {k["id"] for k in gateway.get("/v1/api-keys?revoked=false&limit=200").json()["data"]}
    assert made[0] in revoked and made[0] not in live and made[1] in live


def test_revoking_stops_a_key_at_once_though_its_verdict_was_cached(gateway: TestClient) -> None:
    created = _create(gateway)
    mine = bearer(created["key"])
    assert gateway.get("/v1/communities", headers=mine).status_code == 200  # verdict cached
    revoked = gateway.post(f"/v1/api-keys/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = gateway.get("/v1/communities", headers=mine)
    assert refused.status_code == 401 and refused.json()["type"].endswith("/invalid-api-key")
    assert "invalid_token" in refused.headers["www-authenticate"]
    # Revoking again changes nothing.
    again = gateway.post(f"/v1/api-keys/{created['id']}/revoke")
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_rotating_gives_a_new_key_with_the_same_scopes_and_stops_the_old_one(
    gateway: TestClient,
) -> None:
    old = _create(gateway, name="bot", scopes=["events:read", "events:write"])
    assert gateway.get("/v1/activities", headers=bearer(old["key"])).status_code == 200
    rotated = gateway.post(f"/v1/api-keys/{old['id']}/rotate")
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert rotated.headers["location"] == f"/v1/api-keys/{new['id']}"
    assert new["id"] != old["id"] and new["key"] != old["key"]
    assert new["rotated_from"] == old["id"]
    assert (new["name"], new["scopes"]) == ("bot", ["events:read", "events:write"])
    assert gateway.get("/v1/activities", headers=bearer(old["key"])).status_code == 401
    assert gateway.get("/v1/activities", headers=bearer(new["key"])).status_code == 200
    assert gateway.get(f"/v1/api-keys/{old['id']}").json()["revoked_at"] is not None
    # A revoked key has nothing left to rotate.
    again = gateway.post(f"/v1/api-keys/{old['id']}/rotate")
    assert again.status_code == 409 and again.json()["type"].endswith("/key-revoked")


def test_an_unknown_key_is_a_404(gateway: TestClient) -> None:
    for answer in (
        gateway.get("/v1/api-keys/key_nope"),
        gateway.post("/v1/api-keys/key_nope/rotate"),
        gateway.post("/v1/api-keys/key_nope/revoke"),
    ):
        assert answer.status_code == 404 and answer.json()["type"].endswith("/not-found")


def test_another_workspace_sees_none_of_its_keys(
    gateway: TestClient, make_key: Callable[..., str]
) -> None:
    mine = _create(gateway)
    other = bearer(make_key(["admin"], workspace="ws_elsewhere"))
    assert gateway.get(f"/v1/api-keys/{mine['id']}", headers=other).status_code == 404
    assert gateway.post(f"/v1/api-keys/{mine['id']}/rotate", headers=other).status_code == 404
    assert gateway.post(f"/v1/api-keys/{mine['id']}/revoke", headers=other).status_code == 404
    listed = gateway.get("/v1/api-keys?limit=200", headers=other).json()["data"]
    assert mine["id"] not in {k["id"] for k in listed}
    # And the key still works: the other workspace changed nothing.
    assert gateway.get("/v1/communities", headers=bearer(mine["key"])).status_code == 200


def test_managing_keys_needs_admin(gateway: TestClient, make_key: Callable[..., str]) -> None:
    everything_else = bearer(
        make_key(["members:write", "webhooks:manage", "ingest:write", "metrics:read"])
    )
    answer = gateway.post(
        "/v1/api-keys", headers=everything_else, json={"name": "escalate", "scopes": ["admin"]}
    )
    assert answer.status_code == 403 and answer.json()["required_scope"] == "admin"
