"""An ingested item's event id and record, made a batch at a time, are what they always were:
a re-sent item must get the same event id after a deploy as before it, and consumers must
read the same headers and the contract's own JSON."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.ingest.fingerprints import event_id, event_ids, identity, seen_key
from gateway.ingest.models import MAX_ITEMS, JoinIn, LeftIn, MessageIn
from gateway.ingest.publishing import Envelope
from services.common.cloudevents import CloudEvent
from services.common.contracts import EventData


def _as_it_was(workspace_id: str, platform: str, kind: str, external_id: str) -> str:
    """The spelling before the fast one: RFC 4648 base32, in Crockford's alphabet."""
    digest = hashlib.blake2b(
        "\x1f".join((workspace_id, platform, kind, external_id)).encode(), digest_size=16
    ).digest()
    crockford = bytes.maketrans(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    )
    return "evt_" + base64.b32encode(digest)[:26].translate(crockford).decode()


@given(
    st.text(), st.text(max_size=32), st.sampled_from(["message", "group_member_joined"]), st.text()
)
def test_the_event_id_is_spelled_as_before(ws: str, platform: str, kind: str, ext: str) -> None:
    assert event_id(ws, platform, kind, ext) == _as_it_was(ws, platform, kind, ext)


@given(st.lists(st.text(), max_size=40))
def test_a_batch_of_event_ids_is_each_spelled_as_before(externals: list[str]) -> None:
    identities = [identity("ws_1", "wechat", "message", e) for e in externals]
    assert event_ids(identities) == [_as_it_was("ws_1", "wechat", "message", e) for e in externals]


def test_batches_past_the_largest_are_spelled_as_before() -> None:
    externals = [f"m{n}" for n in range(2 * MAX_ITEMS + 7)]
    identities = [identity("ws_1", "wechat", "message", e) for e in externals]
    assert event_ids(identities) == [_as_it_was("ws_1", "wechat", "message", e) for e in externals]


def test_known_event_id() -> None:
    assert event_id("ws_1", "wechat", "message", "m1") == _as_it_was(
        "ws_1", "wechat", "message", "m1"
    )
    assert len(event_id("ws_1", "wechat", "message", "m1")) == 30


def test_the_seen_key_is_sixteen_bytes_of_the_identitys_sha256() -> None:
    # The migration that keyed `ingest_seen` by it computed it in SQL for the rows there.
    raw = "ws_1\x1fwechat\x1fmessage\x1f消息1".encode()
    assert identity("ws_1", "wechat", "message", "消息1") == raw
    assert seen_key(raw) == hashlib.sha256(raw).digest()[:16]


def _headers(item: EventData, *, now: datetime, event_id: str) -> list[tuple[str, bytes]]:
    return CloudEvent(
        type=item.type,
        source="/qunyun/gateway/ingest",
        workspaceid="ws_1",
        data={},
        subject=getattr(item, "group_external_id", ""),
        id=event_id,
        time=now,
    ).kafka_headers()


def test_a_record_carries_the_headers_a_cloud_event_would() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    envelope = Envelope(workspace_id="ws_1", source="/qunyun/gateway/ingest", now=now)
    items: list[EventData] = [
        MessageIn(
            platform="wechat",
            group_external_id=f"g{n}@chatroom",
            sender_external_id="wx_1",
            occurred_at=now,
            message_external_id=f"m{n}",
            text="收到",
        )
        for n in range(2)
    ]
    items.append(
        JoinIn(
            platform="wechat",
            group_external_id="g9@chatroom",
            sender_external_id="wx_2",
            occurred_at=now,
        )
    )

    records = envelope.records(
        [(type(i), i.__dict__) for i in items], [f"evt_{n}" for n in range(3)]
    )

    for n, (item, record) in enumerate(zip(items, records, strict=True)):
        assert record.headers == _headers(item, now=now, event_id=f"evt_{n}")
        assert record.key == f"wechat:{getattr(item, 'group_external_id', '')}"
        assert record.value == item.__pydantic_serializer__.to_json(item)


_TEXTS = st.text(max_size=40) | st.sampled_from(
    ['},{"platform":"x"}', '{"platform":', '\\"},{"platform":', "\x00\x1f\u2028\x7f", "é收"]
)
_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3.5))])


@given(
    st.lists(
        st.tuples(_TEXTS, _TEXTS, st.none() | _TEXTS, st.lists(_TEXTS, max_size=3), _OFFSETS),
        min_size=1,
        max_size=8,
    ),
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_the_values_are_the_contracts_json(
    fields: list[tuple[str, str, str | None, list[str], timezone]], at: datetime
) -> None:
    """Made in one go for a batch, each value is what the contract's serializer writes, whatever
    the texts hold (quotes, what looks like the start of the next item) and whatever the offset
    or fraction of a second of the time."""
    items: list[EventData] = []
    for n, (text, group, name, flags, offset) in enumerate(fields):
        kind = (MessageIn, JoinIn, LeftIn)[n % 3]
        common = {
            "platform": "wechat",
            "group_external_id": group or "g",
            "sender_external_id": "wx_1",
            "sender_display_name": name,
            "occurred_at": at.astimezone(offset),
        }
        if kind is MessageIn:
            flagged = [f or "flag" for f in flags]
            items.append(MessageIn(**common, message_external_id="m", text=text, flags=flagged))
        else:
            items.append(kind(**common))
    envelope = Envelope(workspace_id="ws_1", source="/qunyun/gateway/ingest", now=at)

    records = envelope.records([(type(i), i.__dict__) for i in items], ["evt_1"] * len(items))

    expected = [i.__pydantic_serializer__.to_json(i) for i in items]
    joined = orjson.dumps([i.__dict__ for i in items], option=orjson.OPT_UTC_Z)
    # made the quick way, not one by one
    assert [b"[" + b",".join(expected) + b"]"] == [joined]
    assert [r.value for r in records] == expected
