from datetime import UTC, datetime

import pytest

from services.common.cloudevents import CloudEvent, MalformedEvent
from services.common.contracts import CONTRACTS, EventData, MemberJoined, topic_of


def _event(**overrides: object) -> CloudEvent:
    fields: dict[str, object] = {
        "type": "io.qunyun.member.joined.v1",
        "source": "/qunyun/members",
        "workspaceid": "ws_1",
        "communityid": "cmt_1",
        "subject": "mbr_1",
        "data": {"member_id": "mbr_1"},
    }
    return CloudEvent(**(fields | overrides))  # type: ignore[arg-type]


def test_binary_mode_headers_carry_every_attribute_and_extension() -> None:
    headers = dict(_event().kafka_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"io.qunyun.member.joined.v1"
    assert headers["ce_workspaceid"] == b"ws_1"
    assert headers["ce_communityid"] == b"cmt_1"
    assert headers["content-type"] == b"application/json"
    assert datetime.fromisoformat(headers["ce_time"].decode()).tzinfo is not None


def test_round_trip_through_kafka_headers_and_value() -> None:
    event = _event()
    again = CloudEvent.from_kafka(event.kafka_headers(), event.kafka_value())
    assert again == event


def test_record_key_is_the_community_so_its_events_keep_order() -> None:
    assert _event().key == "cmt_1"
    assert _event(communityid=None).key == "ws_1"


def test_absent_optional_attributes_are_not_sent_as_headers() -> None:
    names = [k for k, _ in _event(subject=None, communityid=None).kafka_headers()]
    assert "ce_subject" not in names and "ce_communityid" not in names


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ([], b"{}"),
        ([("ce_id", b"1"), ("ce_type", b"t"), ("ce_source", b"s")], b"{}"),
        ([(k, v) for k, v in _event().kafka_headers() if k != "ce_specversion"], b"{}"),
        (_event().kafka_headers(), b"not json"),
        (_event().kafka_headers(), b"[1, 2]"),
    ],
)
def test_records_that_are_not_our_cloudevents_are_refused(headers, value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedEvent):
        CloudEvent.from_kafka(headers, value)


def test_every_contract_is_registered_once_with_a_versioned_past_tense_type() -> None:
    assert CONTRACTS[MemberJoined.type] is MemberJoined
    for event_type, contract in CONTRACTS.items():
        assert event_type.startswith("io.qunyun.") and event_type.rsplit(".", 1)[1].startswith("v")
        assert topic_of(event_type) == contract.topic


def test_a_second_contract_for_a_published_type_is_refused() -> None:
    with pytest.raises(TypeError, match="defined twice"):
        type(
            "Again", (EventData,), {"type": MemberJoined.type, "topic": "x", "__annotations__": {}}
        )


def test_contract_data_becomes_an_event_and_back() -> None:
    data = MemberJoined(
        member_id="mbr_1",
        community_id="cmt_1",
        display_name="林晓",
        identities=[{"platform": "wechat", "external_id": "wx1"}],  # type: ignore[list-item]
        joined_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    event = data.to_event(source="/s", workspace_id="ws_1", community_id="cmt_1", subject="mbr_1")
    assert EventData.of(event) == data
