"""Joins and leaves in bulk, and batches signed by an integration instead of a key."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services.common.contracts import GroupMemberJoined, GroupMemberLeft
from tests.integration.gateway.ingest.conftest import (
    WORKSPACE,
    Ingest,
    Topic,
    headers,
    message,
    now_ms,
)

pytestmark = pytest.mark.integration


def _joined(person: str, at: datetime, group: str = "g_events", **fields: Any) -> dict[str, Any]:
    data = {
        "platform": "wecom",
        "group_external_id": group,
        "sender_external_id": person,
        "occurred_at": at.isoformat(),
        **fields,
    }
    return {"type": "group_member_joined", "data": data}


def _left(person: str, at: datetime, group: str = "g_events") -> dict[str, Any]:
    return _joined(person, at, group) | {"type": "group_member_left"}


def test_joins_and_leaves_land_in_order_with_their_contracts(ingest: Ingest, topic: Topic) -> None:
    since = now_ms()
    group = f"g_{uuid.uuid4().hex[:6]}"
    at = datetime.now(UTC)
    events = [
        _joined("wx_a", at, group, inviter_external_id="wx_owner"),
        _joined("wx_b", at + timedelta(seconds=1), group),
        _left("wx_a", at + timedelta(seconds=2), group),
    ]

    response = ingest.group_events(events)

    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 3
    records = sorted(topic.since(since, expect=3), key=lambda r: r.offset)
    assert {r.key for r in records} == {f"wecom:{group}".encode()}
    assert [headers(r)["ce_type"] for r in records] == [
        GroupMemberJoined.type,
        GroupMemberJoined.type,
        GroupMemberLeft.type,
    ]
    first = GroupMemberJoined.model_validate_json(records[0].value or b"")
    assert (first.sender_external_id, first.inviter_external_id) == ("wx_a", "wx_owner")
    assert GroupMemberLeft.model_validate_json(
        records[2].value or b""
    ).occurred_at == at + timedelta(seconds=2)


def test_the_same_person_joining_the_same_group_at_the_same_instant_is_a_duplicate(
    ingest: Ingest,
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    group = f"g_{uuid.uuid4().hex[:6]}"
    same_instant_elsewhere = at.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00"

    first = ingest.group_events([_joined("wx_a", at, group), _left("wx_a", at, group)])
    second = ingest.group_events(
        [
            {"type": "group_member_joined", "data": _joined("wx_a", at, group)["data"]
             | {"occurred_at": same_instant_elsewhere}},
            _joined("wx_a", at + timedelta(hours=1), group),  # joined again later: new
        ]
    )  # fmt: skip

    assert [r["status"] for r in first.json()["results"]] == ["accepted", "accepted"]
    assert [r["status"] for r in second.json()["results"]] == ["duplicate", "accepted"]


def test_bad_group_events_are_rejected_with_their_field_paths(ingest: Ingest) -> None:
    at = datetime.now(UTC)
    no_time = _joined("wx_b", at)
    del no_time["data"]["occurred_at"]

    response = ingest.group_events(
        [_joined("wx_a", at), {"type": "group_member_kicked", "data": {}}, no_time]
    )

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"][0]["field"] == "events.1.type"
    assert [e["field"] for e in results[2]["errors"]] == ["events.2.data.occurred_at"]


def test_a_batch_signed_by_an_integration_is_accepted_for_its_workspace(
    ingest: Ingest, integration: dict[str, Any], topic: Topic
) -> None:
    since = now_ms()
    sent = message()

    response = ingest.signed("/v1/ingest/messages", {"messages": [sent]}, integration=integration)

    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    (record,) = topic.since(since, expect=1)
    assert headers(record)["ce_workspaceid"] == WORKSPACE
    assert headers(record)["ce_source"] == f"/qunyun/gateway/ingest/{integration['id']}"
    assert orjson.loads(record.value or b"")["message_external_id"] == sent["message_external_id"]
    events = ingest.signed(
        "/v1/ingest/group-events",
        {"events": [_joined("wx_signed", datetime.now(UTC))]},
        integration=integration,
    )
    assert events.json()["accepted"] == 1


@pytest.mark.parametrize("flaw", ["wrong_secret", "stale", "unknown_integration", "tampered"])
def test_a_badly_signed_batch_is_a_401_and_reaches_nothing(
    ingest: Ingest, integration: dict[str, Any], topic: Topic, flaw: str
) -> None:
    since = now_ms()
    document = {"messages": [message()]}
    if flaw == "wrong_secret":
        response = ingest.signed(
            "/v1/ingest/messages", document, integration=integration,
            secret="whsec_" + "QUJD" * 8,
        )  # fmt: skip
    elif flaw == "stale":
        response = ingest.signed(
            "/v1/ingest/messages", document, integration=integration,
            timestamp=int(time.time()) - 600,
        )  # fmt: skip
    elif flaw == "unknown_integration":
        response = ingest.signed(
            "/v1/ingest/messages", document, integration=integration | {"id": "int_nope"}
        )
    else:
        signed = ingest.signed("/v1/ingest/messages", document, integration=integration)
        assert signed.status_code == 202
        request = signed.request
        tampered = orjson.dumps({"messages": [message()]})
        response = ingest.client.post(
            "/v1/ingest/messages",
            content=tampered,
            headers={k: v for k, v in request.headers.items() if k != "content-length"},
        )
        since = now_ms()

    assert response.status_code == 401, response.text
    assert response.json()["type"].endswith("invalid-signature")
    time.sleep(0.5)
    assert topic.since(since, expect=0, timeout=0) == []


def test_a_disabled_integration_cannot_post(ingest: Ingest) -> None:
    created = ingest.post("/v1/integrations", {"name": "退役的助手"}).json()
    assert (
        ingest.client.delete(
            f"/v1/integrations/{created['id']}",
            headers={"authorization": f"Bearer {ingest.key}"},
        ).status_code
        == 204
    )

    response = ingest.signed("/v1/ingest/messages", {"messages": [message()]}, integration=created)

    assert response.status_code == 401


def test_a_disabled_integration_signs_no_more_batches_at_once(ingest: Ingest) -> None:
    """Signed batches read the integration from the verdicts single pushes remember; disabling
    it through this gateway forgets the verdict, so the next batch is refused, not accepted
    for a few more seconds."""
    created = ingest.post("/v1/integrations", {"name": "将停用的助手"})
    assert created.status_code == 201, created.text
    bot = created.json()
    document = {"messages": [message()]}
    assert ingest.signed("/v1/ingest/messages", document, integration=bot).status_code == 202

    disabled = ingest.client.delete(
        f"/v1/integrations/{bot['id']}", headers={"authorization": f"Bearer {ingest.key}"}
    )
    assert disabled.status_code == 204, disabled.text

    refused = ingest.signed("/v1/ingest/messages", {"messages": [message()]}, integration=bot)
    assert refused.status_code == 401, refused.text
