"""Helpers for tests that feed chat messages: a registered group, a message as a bot reports
it, and waiting until the consumer has taken it in."""

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from services.common.contracts import ChatMessagePosted, EventData
from services.common.kafka import OutgoingRecord
from tests.integration.conftest import WORKSPACE
from tests.integration.members.conftest import MembersApi, eventually


def add_group(
    members: MembersApi, community_id: str, *, platform: str = "wechat"
) -> dict[str, Any]:
    """A chat group of the community, registered as operators do."""
    return members.make.group(community_id, platform=platform)


def message(
    group: dict[str, str],
    sender: str,
    text: str = "大家好",
    *,
    at: datetime | None = None,
    flags: Iterable[str] = (),
    message_id: str | None = None,
    display_name: str | None = None,
) -> ChatMessagePosted:
    return ChatMessagePosted(
        platform=group["platform"],
        group_external_id=group["external_id"],
        sender_external_id=sender,
        sender_display_name=display_name,
        occurred_at=at or datetime.now(UTC),
        message_external_id=message_id or uuid.uuid4().hex,
        text=text,
        flags=list(flags),
    )


def taken_in(members: MembersApi, message_ids: Iterable[str]) -> bool:
    wanted = list(message_ids)
    with members.engine.connect() as conn:
        seen = conn.execute(
            sa.text("SELECT count(*) FROM activity_message WHERE message_external_id = ANY(:ids)"),
            {"ids": wanted},
        ).scalar_one()
    return bool(seen == len(wanted))


def say(
    members: MembersApi, group: dict[str, str], sender: str, text: str = "大家好", **kwargs: Any
) -> ChatMessagePosted:
    """Post a message as a bot would and wait until it is counted."""
    data = message(group, sender, text, **kwargs)
    members.publish(data, community_id=None)
    assert eventually(lambda: taken_in(members, [data.message_external_id])), "not consumed"
    return data


def say_all(members: MembersApi, messages: list[ChatMessagePosted]) -> None:
    for data in messages:
        members.publish(data, community_id=None)
    ids = [m.message_external_id for m in messages]
    assert eventually(lambda: taken_in(members, ids)), "not consumed"


def publish_twice(members: MembersApi, data: EventData) -> str:
    """The same event (one id) delivered twice, as after a producer retry."""
    event = data.to_event(source="/test", workspace_id=WORKSPACE, community_id=None, subject=None)
    record = OutgoingRecord(data.topic, event.key, event.kafka_value(), event.kafka_headers())
    members._publisher.publish([record])
    members._publisher.publish([record])
    return event.id


def settle(members: MembersApi, group: dict[str, str]) -> None:
    """Wait until everything published before has been handled: one partition per workspace
    key keeps order, so a marker message taken in means all before it were too."""
    say(members, group, "marker-bot", "marker")
