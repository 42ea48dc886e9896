"""Events the content service will publish that members consumes."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class SubmissionAccepted(EventData):
    """A member's submission (投稿/UGC) passed review."""

    type = "io.qunyun.content.submission_accepted.v1"
    topic = topics.CONTENT

    submission_id: str
    member_id: str
    community_id: str
    accepted_at: datetime
