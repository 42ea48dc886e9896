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


class PlatformIdentity(BaseModel):
    platform: str
    external_id: str


class MemberJoined(EventData):
    type = "io.qunyun.member.joined.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    display_name: str
    identities: list[PlatformIdentity]
    joined_at: datetime
