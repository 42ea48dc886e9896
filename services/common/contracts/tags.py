"""Members' tags (标签): a tag put on or taken off a member. Bulk tagging emits one event per
member that changed, so a consumer keeps per-member state without unpacking batches."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class MemberTagged(EventData):
    type = "io.qunyun.member.tagged.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    tag_id: str
    tag_name: str
    category: str
    tagged_at: datetime


class MemberUntagged(EventData):
    type = "io.qunyun.member.untagged.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    tag_id: str
    tag_name: str
    category: str
    untagged_at: datetime
