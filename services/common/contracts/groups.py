"""Events about chat groups and the rotating group code (群活码).

Bots are the platform's hands in the groups, so every event names the group the way a bot
knows it: `platform` and `external_id`, besides our ids.
"""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData
from services.common.contracts.members import PlatformIdentity


class GroupCreated(EventData):
    """An operator registered a chat group; it takes newcomers in `position` order."""

    type = "io.qunyun.group.created.v1"
    topic = topics.MEMBERS

    group_id: str
    community_id: str
    platform: str
    external_id: str
    name: str
    kind: str
    capacity: int
    position: int
    dissolve_at: datetime | None
    segment_id: str | None
    created_at: datetime


class ActivityGroupCreated(EventData):
    """Members created the temporary group an activity asked for
    (`activity.temporary_group_requested`); events links it to the activity. The group itself
    was announced by `group.created` just before, in the same transaction and partition.

    `group.created` v1 cannot say which activity asked, hence this reply rather than a v2
    of it; `external_id` is `activity:<activity_id>` until the chat exists on its platform."""

    type = "io.qunyun.group.activity_group_created.v1"
    topic = topics.MEMBERS

    group_id: str
    activity_id: str
    community_id: str
    platform: str
    external_id: str
    name: str
    kind: str
    capacity: int
    dissolve_at: datetime | None
    created_at: datetime


class GroupUpdated(EventData):
    """A group's name, capacity, state, position or dissolution time changed. The data is the
    group's whole replicated state, so content, events and metrics upsert their copies from it
    (an older `updated_at` never overwrites a newer one)."""

    type = "io.qunyun.group.updated.v1"
    topic = topics.MEMBERS

    group_id: str
    community_id: str
    platform: str
    external_id: str
    name: str
    kind: str
    state: str
    capacity: int
    position: int
    dissolve_at: datetime | None
    segment_id: str | None
    changed: list[str]
    updated_at: datetime


class GroupFull(EventData):
    """A group has no room left (members plus places held for invitees). When
    `next_group_id` is None no group of the community has room: operators must add one."""

    type = "io.qunyun.group.full.v1"
    topic = topics.MEMBERS

    group_id: str
    community_id: str
    platform: str
    external_id: str
    name: str
    capacity: int
    members: int
    held_places: int
    segment_id: str | None
    next_group_id: str | None
    full_at: datetime


class GroupDissolved(EventData):
    """A group was dissolved (a temporary group's time ran out, or an operator ended it).
    Bots dissolve the chat; its memberships are closed and places held in it released."""

    type = "io.qunyun.group.dissolved.v1"
    topic = topics.MEMBERS

    group_id: str
    community_id: str
    platform: str
    external_id: str
    name: str
    kind: str
    reason: str
    members_released: int
    dissolved_at: datetime


class MemberAssignedToGroup(EventData):
    """A member was given a place in a group; the bot sends them that group's invitation or
    QR code. The place is held until `expires_at`, then freed if they have not joined."""

    type = "io.qunyun.member.assigned_to_group.v1"
    topic = topics.MEMBERS

    assignment_id: str
    member_id: str
    community_id: str
    group_id: str
    platform: str
    group_external_id: str
    group_name: str
    identities: list[PlatformIdentity]
    expires_at: datetime
    assigned_at: datetime
