import dataclasses
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


def test_an_event_is_frozen_and_replace_makes_a_new_one() -> None:
    event = _event()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.id = "evt_other"  # type: ignore[misc]
    other = dataclasses.replace(event, id="evt_other")
    assert other.id == "evt_other" and other.data == event.data and event.id != "evt_other"


def test_an_event_gets_a_time_ordered_id_and_the_time_now_unless_given() -> None:
    before = datetime.now(UTC)
    first, second = _event(), _event()
    assert first.id.startswith("evt_") and first.id < second.id
    assert before <= first.time <= datetime.now(UTC)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert _event(id="evt_given", time=at).id == "evt_given"
    assert _event(time=at).time == at


def test_headers_are_read_as_the_last_of_each_name_with_value_others_ignored() -> None:
    event = _event()
    headers = [
        ("ce_subject", b"mbr_early"),
        ("x-trace", b"\xff\xfe not utf-8"),
        *event.kafka_headers(),
        ("ce_subject", None),
        ("ce_communityid", b"cmt_late"),
    ]
    again = CloudEvent.from_kafka(headers, event.kafka_value())  # type: ignore[arg-type]
    assert again.subject == "mbr_1" and again.communityid == "cmt_late"
    assert again.time == event.time and again.id == event.id


def test_a_record_without_a_time_is_taken_as_of_now_and_a_bad_time_is_refused() -> None:
    headers = [(k, v) for k, v in _event().kafka_headers() if k != "ce_time"]
    assert CloudEvent.from_kafka(headers, b"{}").time.tzinfo is not None
    with pytest.raises(MalformedEvent):
        CloudEvent.from_kafka([*headers, ("ce_time", b"yesterday")], b"{}")


def test_a_refusal_names_every_missing_attribute_in_order() -> None:
    with pytest.raises(MalformedEvent, match="missing CloudEvents headers: ce_id, ce_workspaceid"):
        CloudEvent.from_kafka([("ce_type", b"t"), ("ce_source", b"s")], b"{}")
    with pytest.raises(MalformedEvent, match="unsupported specversion None"):
        CloudEvent.from_kafka(
            [(k, v) for k, v in _event().kafka_headers() if k != "ce_specversion"], b"{}"
        )


def test_header_pairs_are_the_kafka_headers_as_text() -> None:
    for event in (_event(), _event(subject=None, communityid=None)):
        assert [(k, v.encode()) for k, v in event.header_pairs()] == event.kafka_headers()
        assert [k for k, _ in event.header_pairs()][:5] == [
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_specversion",
            "ce_time",
        ]
