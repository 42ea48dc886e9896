"""The event contracts: the only schema services share.

Each published type has one pydantic model here. Changing a published type means a new
version (a new class with a `.v2` type), never an edit of the old one.
"""

from services.common.contracts.base import CONTRACTS, EventData, topic_of
from services.common.contracts.members import (
    CommunityCreated,
    LeadCreated,
    MemberApplied,
    MemberJoined,
    MembersMerged,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.common.contracts.topics import ALL_TOPICS, dead_letter_topic

__all__ = [
    "ALL_TOPICS",
    "CONTRACTS",
    "CommunityCreated",
    "EventData",
    "LeadCreated",
    "MemberApplied",
    "MemberJoined",
    "MemberStatusChanged",
    "MembersMerged",
    "PlatformIdentity",
    "dead_letter_topic",
    "topic_of",
]
