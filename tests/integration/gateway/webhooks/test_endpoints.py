"""The endpoint API: subscriptions, secrets shown once, the event-type catalogue, the guard."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from standardwebhooks import Webhook

from gateway.access import service as keys
from tests.integration.gateway.webhooks.conftest import DispatcherProcess, wait_for
from tests.integration.gateway.webhooks.factories import create_endpoint
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def test_the_event_types_come_from_the_contracts(api: TestClient) -> None:
    """A page like every list; walked three at a time it holds each type once."""
    listed, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.get("/v1/webhooks/event-types", params=params).json()
        listed += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    types = {t["type"]: t for t in listed}
    assert len(types) == len(listed) > 3
    assert api.get("/v1/webhooks/event-types", params={"cursor": "bm9wZQ"}).status_code == 400
    assert types["io.qunyun.member.status_changed.v1"]["topic"] == "qunyun.members.v1"
    assert "io.qunyun.group.dissolved.v1" in types
    assert "io.qunyun.webhook.endpoint_disabled.v1" in types


def test_an_endpoint_is_created_its_secret_shown_once_and_changed(
    api: TestClient, receiver: Receiver
) -> None:
    created = create_endpoint(
        api,
        receiver.url("/crud"),
        description="火把小助手",
        event_types=["io.qunyun.member.*", "io.qunyun.group.dissolved.v1"],
        community_ids=["cmt_a"],
        rate_limit_per_second=5,
    )
    assert created["secret"].startswith("whsec_")
    assert created["active"] and created["ordered"]
    read = api.get(f"/v1/webhooks/endpoints/{created['id']}").json()
    assert "secret" not in read
    assert read["event_types"] == ["io.qunyun.member.*", "io.qunyun.group.dissolved.v1"]

    changed = api.patch(
        f"/v1/webhooks/endpoints/{created['id']}", json={"ordered": False, "community_ids": None}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["ordered"] is False and changed.json()["community_ids"] is None
    emptied = api.patch(f"/v1/webhooks/endpoints/{created['id']}", json={"event_types": None})
    assert emptied.status_code == 422 and emptied.json()["errors"][0]["field"] == "event_types"
    listed = api.get("/v1/webhooks/endpoints").json()
    assert created["id"] in [e["id"] for e in listed["data"]]
    assert api.delete(f"/v1/webhooks/endpoints/{created['id']}").status_code == 204
    assert api.get(f"/v1/webhooks/endpoints/{created['id']}").status_code == 404


def test_a_retried_create_with_its_idempotency_key_makes_one_endpoint(
    api: TestClient, receiver: Receiver
) -> None:
    body = {"url": receiver.url("/once"), "description": "retried"}
    key = {"Idempotency-Key": "create-once-1"}
    first = api.post("/v1/webhooks/endpoints", json=body, headers=key)
    again = api.post("/v1/webhooks/endpoints", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()  # the same endpoint, the same secret: none minted
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"].endswith(first.json()["id"])
    listed = api.get("/v1/webhooks/endpoints", params={"limit": 200}).json()["data"]
    assert [e["id"] for e in listed if e["url"] == body["url"]] == [first.json()["id"]]
    other = api.post("/v1/webhooks/endpoints", json=body | {"description": "another"}, headers=key)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")


def test_a_given_secret_must_hold_24_to_64_bytes(api: TestClient, receiver: Receiver) -> None:
    short = api.post(
        "/v1/webhooks/endpoints", json={"url": receiver.url("/s"), "secret": "whsec_c2hvcnQ="}
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "secret"


def test_unknown_event_types_are_refused(api: TestClient, receiver: Receiver) -> None:
    answer = api.post(
        "/v1/webhooks/endpoints",
        json={"url": receiver.url("/t"), "event_types": ["io.qunyun.memebr.*"]},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "event_types"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://[::1]:9/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_loopback_and_link_local_destinations_are_refused_at_creation(
    api: TestClient, url: str
) -> None:
    answer = api.post("/v1/webhooks/endpoints", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/destination-refused")
    assert answer.json()["errors"][0]["field"] == "url"


def test_another_workspace_sees_none_of_it(
    api: TestClient, receiver: Receiver, engine: Engine
) -> None:
    created = create_endpoint(api, receiver.url("/mine"))
    with Session(engine) as session:
        _, other_key = keys.create_api_key(
            session=session, workspace_id="ws_other", name="t", scopes=["webhooks:manage"]
        )
        session.commit()
    other = {"Authorization": f"Bearer {other_key}"}
    assert api.get(f"/v1/webhooks/endpoints/{created['id']}", headers=other).status_code == 404
    assert api.get("/v1/webhooks/endpoints", headers=other).json()["data"] == []
    assert api.delete(f"/v1/webhooks/endpoints/{created['id']}", headers=other).status_code == 404


def test_a_bot_integration_carries_its_endpoint_signed_with_the_same_secret(
    api: TestClient, receiver: Receiver, dispatcher: DispatcherProcess
) -> None:
    created = api.post(
        "/v1/integrations",
        json={
            "name": "涂色企服",
            "endpoint": {"url": receiver.url("/bot"), "event_types": ["io.qunyun.member.*"]},
        },
    )
    assert created.status_code == 201, created.text
    bot = created.json()
    endpoint = api.get(f"/v1/webhooks/endpoints/{bot['endpoint_id']}").json()
    assert endpoint["integration_id"] == bot["id"]
    listed = {i["id"]: i for i in api.get("/v1/integrations").json()["data"]}
    assert listed[bot["id"]]["endpoint_id"] == bot["endpoint_id"]

    queued = api.post(f"/v1/webhooks/endpoints/{bot['endpoint_id']}/test").json()
    [ping] = wait_for(lambda: receiver.at("/bot"), what="the ping")
    assert Webhook(bot["secret"]).verify(ping.body, ping.headers)["id"] == queued["event_id"]

    assert api.delete(f"/v1/integrations/{bot['id']}").status_code == 204
    after = api.get(f"/v1/webhooks/endpoints/{bot['endpoint_id']}").json()
    assert after["active"] is False and after["disabled_reason"] == "integration_disabled"


def test_an_integration_with_an_inward_endpoint_is_refused_whole(api: TestClient) -> None:
    answer = api.post(
        "/v1/integrations",
        json={"name": "x", "endpoint": {"url": "http://169.254.169.254/"}},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "endpoint.url"
    assert all(i["name"] != "x" for i in api.get("/v1/integrations").json()["data"])
