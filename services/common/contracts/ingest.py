"""What chat bots report from the groups, accepted by the gateway and put on Kafka.

Bots know platform identities, not our ids: a group is (platform, external group id), a person
is (platform, external user id). The members service resolves both.
"""

from datetime import datetime

from pydantic import Field

from services.common.contracts import topics
from services.common.contracts.base import EventData


class GroupActivity(EventData):
    platform: str
    group_external_id: str
    sender_external_id: str
    sender_display_name: str | None = None
    occurred_at: datetime


class ChatMessagePosted(GroupActivity):
    """A message in a group. `flags` are what the bot noticed (e.g. `qr_code`, `contact_card`,
    `link`, `red_packet`, `image`, `mini_program`)."""

    type = "io.qunyun.ingest.message_posted.v1"
    topic = topics.INGEST_MESSAGES

    message_external_id: str
    text: str = Field(default="", max_length=20_000)
    flags: list[str] = Field(default_factory=list)
    reply_to_external_id: str | None = None


class GroupMemberJoined(GroupActivity):
    """Someone joined a group (`sender_*` is the person who joined)."""

    type = "io.qunyun.ingest.group_member_joined.v1"
    topic = topics.INGEST_MESSAGES

    inviter_external_id: str | None = None


class GroupMemberLeft(GroupActivity):
    """Someone left or was removed from a group."""

    type = "io.qunyun.ingest.group_member_left.v1"
    topic = topics.INGEST_MESSAGES

    removed_by_external_id: str | None = None


class RegistrationRequested(GroupActivity):
    """A member asked in a group to register for an activity (typed 报名). `session_id` is
    optional: without it the next session open for registration is meant."""

    type = "io.qunyun.ingest.registration_requested.v1"
    topic = topics.INGEST_MESSAGES

    activity_id: str = Field(min_length=1, max_length=64)
    session_id: str | None = Field(default=None, max_length=64)


class CheckInPushed(GroupActivity):
    """A member's daily check-in (打卡) in a challenge, posted in a group; counts for the
    local day of `occurred_at` in the community's timezone."""

    type = "io.qunyun.ingest.check_in_pushed.v1"
    topic = topics.INGEST_MESSAGES

    challenge_id: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=2000)
    link: str | None = Field(default=None, max_length=2000)
