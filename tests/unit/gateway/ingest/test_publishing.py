"""An ingested item's event id and headers, spelled quickly, spell what they always did: a
re-sent item must get the same event id after a deploy as before it."""

import base64
import hashlib
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from gateway.ingest.models import MessageIn
from gateway.ingest.publishing import Envelope, event_id
from services.common.cloudevents import CloudEvent


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


def test_known_event_id() -> None:
    assert event_id("ws_1", "wechat", "message", "m1") == _as_it_was(
        "ws_1", "wechat", "message", "m1"
    )
    assert len(event_id("ws_1", "wechat", "message", "m1")) == 30


def test_a_record_carries_the_headers_a_cloud_event_would() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    envelope = Envelope(workspace_id="ws_1", source="/qunyun/gateway/ingest", now=now)
    items = [
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

    records = [envelope.record(item, event_id=f"evt_{n}") for n, item in enumerate(items)]

    for n, (item, record) in enumerate(zip(items, records, strict=True)):
        expected = CloudEvent(
            type=item.type,
            source="/qunyun/gateway/ingest",
            workspaceid="ws_1",
            data={},
            subject=item.group_external_id,
            id=f"evt_{n}",
            time=now,
        ).kafka_headers()
        assert record.headers == expected
        assert record.key == f"wechat:g{n}@chatroom"
        assert record.value == item.__pydantic_serializer__.to_json(item)
