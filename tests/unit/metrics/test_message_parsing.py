"""The fold's own reading of `message_posted` agrees with the contract: what the plain check
takes reads as the model would, and what it does not take the contract judges."""

from datetime import UTC, datetime
from typing import Any

from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.metrics.rollups.messages import Message, parse_messages


def _event(**data: Any) -> CloudEvent:
    base = {
        "platform": "wechat",
        "group_external_id": "g1",
        "sender_external_id": "u1",
        "message_external_id": "m1",
        "occurred_at": "2026-03-01T15:59:59+00:00",
        "text": "大家好",
    }
    return CloudEvent(
        type=ChatMessagePosted.type,
        source="/test",
        workspaceid="ws",
        communityid=None,
        subject=None,
        data={k: v for k, v in (base | data).items() if v is not ...},
    )


def _read(event: CloudEvent) -> Message | str:
    parsed, rejected = parse_messages([event])
    return parsed[0][1] if parsed else f"rejected {rejected == [event.id]}"


def _by_contract(event: CloudEvent) -> Message:
    d = ChatMessagePosted.model_validate(event.data)
    return Message(
        d.platform,
        d.group_external_id,
        d.sender_external_id,
        d.occurred_at,
        d.text,
        d.reply_to_external_id,
    )


def test_well_formed_messages_read_as_the_contract_reads_them() -> None:
    for event in (
        _event(),
        _event(occurred_at="2026-03-01T23:59:59.123+08:00", reply_to_external_id="m0"),
        _event(occurred_at="2026-03-01T12:00:00Z", text=..., flags=["link"]),
        _event(occurred_at="2026-03-01T12:00:00"),  # naive: UTC to the fold, as before
    ):
        assert _read(event) == _by_contract(event)


def test_what_the_plain_check_does_not_take_the_contract_judges() -> None:
    epoch = _event(occurred_at=1772380799)  # a number the contract accepts as a time
    assert _read(epoch) == _by_contract(epoch)
    assert isinstance(_read(epoch), Message)
    assert _read(epoch).occurred_at == datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)  # type: ignore[union-attr]
    for bad in (
        _event(group_external_id=...),
        _event(sender_external_id=None),
        _event(occurred_at="yesterday"),
        _event(text="x" * 20_001),
        _event(flags="link"),
        _event(message_external_id=...),
    ):
        assert _read(bad) == "rejected True"
