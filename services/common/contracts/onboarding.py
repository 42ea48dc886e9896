"""Events of the joining ritual, the community rules and inactivity pruning (members service)."""

from datetime import date, datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class RulesPublished(EventData):
    """A new version of a community's rules (群规). Bots pin `text` as the group announcement
    and tell it to newcomers; members are then asked to acknowledge `version`."""

    type = "io.qunyun.community.rules_published.v1"
    topic = topics.MEMBERS

    community_id: str
    version: int
    text: str
    published_by: str
    published_at: datetime


class MemberOnboarded(EventData):
    """A member finished the joining ritual: introduced themself as the community asks and
    acknowledged the rules (when required). Announced once per member."""

    type = "io.qunyun.member.onboarded.v1"
    topic = topics.MEMBERS

    member_id: str
    community_id: str
    rules_version: int | None
    onboarded_at: datetime


class PruneRunCompleted(EventData):
    """An inactivity prune run finished. The removals themselves are announced one by one as
    `member.status_changed`; this says how the run went (a dry run removes nobody)."""

    type = "io.qunyun.community.prune_run_completed.v1"
    topic = topics.MEMBERS

    run_id: str
    community_id: str
    dry_run: bool
    scheduled: bool
    period_start: date
    period_end: date
    candidate_count: int
    removed_count: int
    completed_at: datetime
