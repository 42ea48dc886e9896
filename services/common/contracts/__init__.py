"""The event contracts: the only schema services share.

Each published type has one pydantic model here. Changing a published type means a new
version (a new class with a `.v2` type), never an edit of the old one.
"""

from services.common.contracts.activities import AttendanceRecorded, CheckInRecorded, FeedbackGiven
from services.common.contracts.base import CONTRACTS, EventData, topic_of
from services.common.contracts.content import SubmissionAccepted
from services.common.contracts.groups import (
    GroupCreated,
    GroupDissolved,
    GroupFull,
    GroupUpdated,
    MemberAssignedToGroup,
)
from services.common.contracts.incentives import (
    MemberBadgeAwarded,
    ReferralCampaignRewarded,
    ReferralFailed,
    ReferralSucceeded,
)
from services.common.contracts.ingest import ChatMessagePosted, GroupMemberJoined, GroupMemberLeft
from services.common.contracts.lifecycle import PurchaseRecorded
from services.common.contracts.members import (
    CommunityCreated,
    CommunityUpdated,
    LeadCreated,
    MemberApplied,
    MemberJoined,
    MemberLevelReached,
    MembersMerged,
    MemberStageChanged,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.common.contracts.metrics import AlertOpened, AlertResolved, WeeklyReportPublished
from services.common.contracts.moderation import ModerationCaseDismissed, ViolationRecorded
from services.common.contracts.onboarding import MemberOnboarded, PruneRunCompleted, RulesPublished
from services.common.contracts.tags import MemberTagged, MemberUntagged
from services.common.contracts.topics import ALL_TOPICS, dead_letter_topic

# Importing every contract module here fills CONTRACTS, so any process knows every type.
__all__ = [
    "ALL_TOPICS",
    "CONTRACTS",
    "AlertOpened",
    "AlertResolved",
    "AttendanceRecorded",
    "ChatMessagePosted",
    "CheckInRecorded",
    "CommunityCreated",
    "CommunityUpdated",
    "EventData",
    "FeedbackGiven",
    "GroupCreated",
    "GroupDissolved",
    "GroupFull",
    "GroupMemberJoined",
    "GroupMemberLeft",
    "GroupUpdated",
    "LeadCreated",
    "MemberApplied",
    "MemberAssignedToGroup",
    "MemberBadgeAwarded",
    "MemberJoined",
    "MemberLevelReached",
    "MemberOnboarded",
    "MemberStageChanged",
    "MemberStatusChanged",
    "MemberTagged",
    "MemberUntagged",
    "MembersMerged",
    "ModerationCaseDismissed",
    "PlatformIdentity",
    "PruneRunCompleted",
    "PurchaseRecorded",
    "ReferralCampaignRewarded",
    "ReferralFailed",
    "ReferralSucceeded",
    "RulesPublished",
    "SubmissionAccepted",
    "ViolationRecorded",
    "WeeklyReportPublished",
    "dead_letter_topic",
    "topic_of",
]
