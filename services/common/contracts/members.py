from datetime import datetime

from pydantic import BaseModel

from services.common.contracts import topics
from services.common.contracts.base import EventData


class CommunityCreated(EventData):
    type = "io.qunyun.community.created.v1"
    topic = topics.MEMBERS

    community_id: str
    name: str
    purpose: str
    timezone: str
    created_at: datetime


class CommunityUpdated(EventData):
    """What other services replicate of a community changed: its name, purpose, timezone or
    the settings they read. The data is the whole replicated state, not the difference, so a
    replica upserts it as it comes and an old event never undoes a newer one (compare
    `updated_at`)."""

    type = "io.qunyun.community.updated.v1"
    topic = topics.MEMBERS

    community_id: str
    name: str
    purpose: str
    timezone: str
    changed: list[str]
    updated_at: datetime


class PlatformIdentity(BaseModel):
    platform: str
    external_id: str


class MemberJoined(EventData):
    """A person became a member: admitted at once, approved, or back after removal."""

    type = "io.qunyun.member.joined.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    display_name: str
    identities: list[PlatformIdentity]
    joined_at: datetime
    referred_by: str | None = None
    role: str = "member"


class MemberApplied(EventData):
    """Someone asked to join a community whose entry needs an operator's approval."""

    type = "io.qunyun.member.applied.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    display_name: str
    identities: list[PlatformIdentity]
    applied_at: datetime


class LeadCreated(EventData):
    """A prospect known before joining (lifecycle stage `aware`), e.g. from a campaign."""

    type = "io.qunyun.member.lead_created.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    source: str | None
    created_at: datetime


class MemberStatusChanged(EventData):
    """Approved, rejected, muted, unmuted, removed, banned or unbanned. Bots act on it: the
    identities say whom to mute or remove in which platform's groups."""

    type = "io.qunyun.member.status_changed.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    until: datetime | None
    identities: list[PlatformIdentity]
    changed_at: datetime


class MembersMerged(EventData):
    """Two records of one person became one; `merged_id` now points at `survivor_id`."""

    type = "io.qunyun.member.merged.v1"
    topic = topics.MEMBERS

    survivor_id: str
    merged_id: str
    community_id: str
    merged_at: datetime


class MemberStageChanged(EventData):
    """A member moved along the lifecycle (社群链条), by an observed event or an operator."""

    type = "io.qunyun.member.stage_changed.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    from_stage: str
    to_stage: str
    reason: str
    actor: str
    changed_at: datetime


class MemberLevelReached(EventData):
    """A member's points reached a new level."""

    type = "io.qunyun.member.level_reached.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    level: int
    points: int
    reached_at: datetime
