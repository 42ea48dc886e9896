"""Events the events service publishes about activities, registration, check-in (签到),
daily check-in challenges (打卡), lotteries, feedback and reminders, on `qunyun.activities.v1`.

Members consumes the first three for points and the lifecycle; bots act on those that name
platform identities (reminders, invitations, refusals). Every registration event carries the
activity, the session and the member, so a consumer needs no lookup back into this service."""

from datetime import datetime

from pydantic import BaseModel

from services.common.contracts import topics
from services.common.contracts.base import EventData
from services.common.contracts.members import PlatformIdentity


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


# ---- lifecycle -----------------------------------------------------------------------------


class PlannedSession(BaseModel):
    session_id: str
    starts_at: datetime
    ends_at: datetime
    status: str  # scheduled, closed, cancelled


class ActivityPlanned(EventData):
    """An activity's public plan as it now stands, sent whenever it changes once published:
    published, replanned, moved to another status, a session cancelled. It carries the whole
    plan, so a consumer keeps a read model (content's calendar) from the latest one alone,
    with no lookup back into this service; `changed_at` orders two of them."""

    type = "io.qunyun.activity.planned.v1"
    topic = topics.ACTIVITIES

    activity_id: str
    community_id: str
    kind: str
    title: str
    status: str
    place: str | None
    online_url: str | None
    group_id: str | None
    sessions: list[PlannedSession]
    changed_at: datetime


class ActivityCancelled(EventData):
    """An activity was cancelled; every member still holding a place or waiting is named, so
    bots tell them."""

    type = "io.qunyun.activity.cancelled.v1"
    topic = topics.ACTIVITIES

    activity_id: str
    community_id: str
    title: str
    reason: str | None
    member_ids: list[str]
    cancelled_at: datetime


class SessionCancelled(EventData):
    """One session of a recurring activity was cancelled (an exception to its RRULE); its
    registrants are named. It sends no reminders."""

    type = "io.qunyun.activity.session_cancelled.v1"
    topic = topics.ACTIVITIES

    activity_id: str
    session_id: str
    community_id: str
    starts_at: datetime
    member_ids: list[str]
    cancelled_at: datetime


# ---- registration and the waiting list -------------------------------------------------------


class RegistrationEvent(EventData):
    registration_id: str
    activity_id: str
    session_id: str
    community_id: str
    member_id: str
    occurred_at: datetime


class Registered(RegistrationEvent):
    """A member holds a confirmed place in a session."""

    type = "io.qunyun.activity.registered.v1"
    topic = topics.ACTIVITIES

    source: str  # api | bot | walk_in


class Waitlisted(RegistrationEvent):
    """The session was full: the member waits at `position` (1 = next), in arrival order."""

    type = "io.qunyun.activity.waitlisted.v1"
    topic = topics.ACTIVITIES

    position: int
    source: str


class PlaceOffered(RegistrationEvent):
    """A place freed up and is offered to the first waiting member until `expires_at`; if it
    is not accepted by then it passes to the next (`offer_expired`)."""

    type = "io.qunyun.activity.place_offered.v1"
    topic = topics.ACTIVITIES

    expires_at: datetime


class Promoted(RegistrationEvent):
    """A waiting member now holds a confirmed place: promoted directly, or by accepting an
    offer (`via`: `waitlist` | `offer`)."""

    type = "io.qunyun.activity.promoted.v1"
    topic = topics.ACTIVITIES

    via: str


class OfferExpired(RegistrationEvent):
    """An offered place was not accepted in time; it has passed on."""

    type = "io.qunyun.activity.offer_expired.v1"
    topic = topics.ACTIVITIES


class RegistrationCancelled(RegistrationEvent):
    """A registration ended: by the member, an operator, or the activity's cancellation
    (`reason`). `was` is the status it had (confirmed, waitlisted, offered)."""

    type = "io.qunyun.activity.registration_cancelled.v1"
    topic = topics.ACTIVITIES

    was: str
    reason: str


class NoShowRecorded(RegistrationEvent):
    """A confirmed member did not check in before their session ended."""

    type = "io.qunyun.activity.no_show_recorded.v1"
    topic = topics.ACTIVITIES


class InboundRequestRefused(EventData):
    """A bot's request for a member (`registration_requested`, `check_in`) was refused; the
    bot tells the member why (`reason` is the problem's slug, `detail` a sentence)."""

    type = "io.qunyun.activity.inbound_request_refused.v1"
    topic = topics.ACTIVITIES

    request_event_id: str
    request: str
    community_id: str | None
    member_id: str | None
    platform: str
    group_external_id: str
    sender_external_id: str
    reason: str
    detail: str
    refused_at: datetime


# ---- reminders and temporary groups -------------------------------------------------------


class Recipient(BaseModel):
    """A member a bot should message, with the platform identities it knows them by."""

    member_id: str
    identities: list[PlatformIdentity]


class ReminderDue(EventData):
    """A session starts soon (`lead`: `24h` or `1h`); bots remind the confirmed members, whom
    `recipients` names with their platform identities."""

    type = "io.qunyun.activity.reminder_due.v1"
    topic = topics.ACTIVITIES

    activity_id: str
    session_id: str
    community_id: str
    title: str
    lead: str
    starts_at: datetime
    online_url: str | None
    place: str | None
    member_ids: list[str]
    recipients: list[Recipient]
    due_at: datetime


class TemporaryGroupRequested(EventData):
    """An activity asks for a temporary group (rule 11): members creates it as
    `kind: temporary` with this `dissolve_at` (the activity's end plus a grace period), or an
    operator links an existing group to the activity."""

    type = "io.qunyun.activity.temporary_group_requested.v1"
    topic = topics.ACTIVITIES

    activity_id: str
    community_id: str
    platform: str
    name: str
    capacity: int | None
    dissolve_at: datetime
    requested_at: datetime


class GroupInvitationRequested(EventData):
    """A confirmed registrant should be invited to the activity's group; bots send the
    invitation to the member's identities on that platform."""

    type = "io.qunyun.activity.group_invitation_requested.v1"
    topic = topics.ACTIVITIES

    activity_id: str
    community_id: str
    group_id: str
    platform: str
    group_external_id: str
    member_id: str
    identities: list[PlatformIdentity]
    requested_at: datetime


# ---- challenges (打卡) and lotteries --------------------------------------------------------


class ChallengeTierReached(EventData):
    """A member's check-in count reached one of the challenge's reward tiers; members awards
    the tier's points and badge."""

    type = "io.qunyun.activity.challenge_tier_reached.v1"
    topic = topics.ACTIVITIES

    challenge_id: str
    community_id: str
    member_id: str
    tier: str
    days: int
    points: int
    badge: str | None
    reached_at: datetime


class ChallengeCompleted(EventData):
    """A member checked in on every day of the challenge (make-up cards included)."""

    type = "io.qunyun.activity.challenge_completed.v1"
    topic = topics.ACTIVITIES

    challenge_id: str
    community_id: str
    member_id: str
    days: int
    makeups_used: int
    completed_at: datetime


class DrawWinner(BaseModel):
    member_id: str
    prize: str


class DrawCompleted(EventData):
    """A lottery draw ran; its record (seed, eligible list, algorithm) lets anyone recompute
    the winners at `GET .../draws/{draw_id}/verify`."""

    type = "io.qunyun.activity.draw_completed.v1"
    topic = topics.ACTIVITIES

    draw_id: str
    activity_id: str
    community_id: str
    algorithm: str
    seed: str
    eligible_count: int
    winners: list[DrawWinner]
    drawn_at: datetime
