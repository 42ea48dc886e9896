"""Tags' tables and API shapes."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Field as SQLField

from services.common.clock import now
from services.common.http.schemas import RequestModel
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import MemberIds

MAX_BULK = 1000


class TagCategory(StrEnum):
    spending = "spending"
    interaction = "interaction"
    location = "location"
    birthday = "birthday"
    family = "family"
    custom = "custom"


class Tag(MembersTable, table=True):
    __tablename__ = "tag"
    __table_args__ = (sa.UniqueConstraint("community_id", "name", name="uq_tag_community_name"),)

    id: str = SQLField(primary_key=True)
    workspace_id: str
    community_id: str = SQLField(foreign_key="community.id")
    name: str
    category: TagCategory
    created_at: datetime = SQLField(default_factory=now, sa_column=timestamp_column())


class MemberTag(MembersTable, table=True):
    """A tag on a member. The primary key leads with the tag: segments ask "who has tag T"."""

    __tablename__ = "member_tag"
    __table_args__ = (sa.Index("ix_member_tag_member", "member_id", "tag_id"),)

    tag_id: str = SQLField(primary_key=True, foreign_key="tag.id")
    member_id: str = SQLField(primary_key=True, foreign_key="member.id")
    workspace_id: str
    community_id: str
    tagged_by: str
    tagged_at: datetime = SQLField(default_factory=now, sa_column=timestamp_column())


class TagIn(RequestModel):
    name: str = Field(min_length=1, max_length=40)
    category: TagCategory = TagCategory.custom

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a tag name cannot be blank")
        return value.strip()


class TagPublic(BaseModel):
    id: str
    name: str
    category: TagCategory
    created_at: datetime


class MemberIdsIn(RequestModel):
    member_ids: MemberIds = Field(min_length=1, max_length=MAX_BULK)


class BulkTagResult(BaseModel):
    tag_id: str
    changed: int = Field(description="Members tagged (or untagged) by this call.")
    unchanged: int = Field(description="Members who already had (or did not have) the tag.")
