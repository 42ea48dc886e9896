"""Events the events service (activities) will publish; members consumes them for points and
the lifecycle. Their producer does not exist yet: these contracts are what it will publish."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class CheckInRecorded(EventData):
    """A member's daily check-in (打卡) in a challenge."""

    type = "io.qunyun.activity.check_in_recorded.v1"
    topic = topics.ACTIVITIES

    member_id: str
    community_id: str
    challenge_id: str
    day: str  # YYYY-MM-DD in the community's timezone
    streak: int
    recorded_at: datetime


class AttendanceRecorded(EventData):
    """A member was checked in (签到) at an activity."""

    type = "io.qunyun.activity.attendance_recorded.v1"
    topic = topics.ACTIVITIES

    member_id: str
    community_id: str
    activity_id: str
    recorded_at: datetime


class FeedbackGiven(EventData):
    """A member gave feedback on an activity (or the community)."""

    type = "io.qunyun.activity.feedback_given.v1"
    topic = topics.ACTIVITIES

    member_id: str
    community_id: str
    activity_id: str | None
    rating: int | None  # 1–5
    comment: str | None
    given_at: datetime
