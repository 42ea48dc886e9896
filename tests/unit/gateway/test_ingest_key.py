from datetime import UTC, datetime

from gateway.inbound import ingest_key
from services.common.contracts import ChatMessagePosted, GroupMemberJoined


def test_a_bots_events_are_keyed_by_group_so_groups_spread_and_each_keeps_order() -> None:
    at = datetime.now(UTC)
    message = ChatMessagePosted(
        platform="wecom",
        group_external_id="wr_123",
        sender_external_id="u1",
        message_external_id="m1",
        occurred_at=at,
    )
    joined = GroupMemberJoined(
        platform="wecom", group_external_id="wr_123", sender_external_id="u2", occurred_at=at
    )
    other = GroupMemberJoined(
        platform="wecom", group_external_id="wr_456", sender_external_id="u2", occurred_at=at
    )
    assert ingest_key(message) == ingest_key(joined) == "wecom:wr_123"
    assert ingest_key(other) == "wecom:wr_456"
