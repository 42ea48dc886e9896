"""The event contracts: the only schema services share.

Each published type has one pydantic model here. Changing a published type means a new
version (a new class with a `.v2` type), never an edit of the old one.
"""

from services.common.contracts.activities import AttendanceRecorded, CheckInRecorded, FeedbackGiven
from services.common.contracts.base import CONTRACTS, EventData, topic_of
from services.common.contracts.content import SubmissionAccepted
from services.common.contracts.ingest import ChatMessagePosted, GroupMemberJoined, GroupMemberLeft
from services.common.contracts.members import (
    CommunityCreated,
    LeadCreated,
    MemberApplied,
    MemberJoined,
    MemberLevelReached,
    MembersMerged,
    MemberStageChanged,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.common.contracts.topics import ALL_TOPICS, dead_letter_topic

__all__ = [
    "ALL_TOPICS",
    "CONTRACTS",
    "AttendanceRecorded",
    "ChatMessagePosted",
    "CheckInRecorded",
    "CommunityCreated",
    "EventData",
    "FeedbackGiven",
    "GroupMemberJoined",
    "GroupMemberLeft",
    "LeadCreated",
    "MemberApplied",
    "MemberJoined",
    "MemberLevelReached",
    "MemberStageChanged",
    "MemberStatusChanged",
    "MembersMerged",
    "PlatformIdentity",
    "SubmissionAccepted",
    "dead_letter_topic",
    "topic_of",
]
