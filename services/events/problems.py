"""Every problem the events service answers with, each defined once as a named problem type
(the kit's `ProblemType`): its status, title, how its detail reads, and the typed fields a
client reads without parsing the detail. Slugs are chosen not to clash with members' own
(`invalid-transition`, `group-dissolved` are theirs), since the gateway's OpenAPI document
lists every service's problems together."""

from services.common.http.problems import (
    NotFound,
    Problem,
    ProblemType,
    field_problem,
    not_found,
    problem_responses,
)

__all__ = [
    "ActivityNotEditable",
    "AlreadyCheckedIn",
    "AlreadyCheckedInToday",
    "CapacityBelowTaken",
    "FeedbackExists",
    "InvalidActivityTransition",
    "InvalidRegistrationState",
    "InvalidSchedule",
    "LinkedGroupDissolved",
    "NoMakeupCards",
    "NotAChallenge",
    "NotEligible",
    "NotFound",
    "NotRegistered",
    "NothingToDraw",
    "OutsideChallenge",
    "Problem",
    "RegistrationClosed",
    "SessionNotOpen",
    "field_problem",
    "not_found",
    "problem_responses",
]


class InvalidActivityTransition(
    ProblemType,
    status=409,
    title="Impossible transition",
    detail="Activity {activity_id} is {current}; it cannot become {target}.",
):
    activity_id: str
    current: str
    target: str
    allowed: list[str]


class ActivityNotEditable(
    ProblemType,
    status=409,
    title="The activity is history",
    detail="Activity {activity_id} is {activity_status}; its plan no longer changes.",
):
    activity_id: str
    activity_status: str


class InvalidSchedule(
    ProblemType,
    status=422,
    title="The schedule is not valid",
    detail="{reason}",
    field="schedule",
):
    reason: str


class NotEligible(ProblemType, status=403, title="Not eligible", detail="{reason}"):
    """The member fails one of the activity's conditions; `condition` names which:
    not-a-member, leads-not-allowed, level-too-low, role-not-allowed, missing-tag."""

    condition: str
    reason: str


class RegistrationClosed(
    ProblemType, status=409, title="Registration is closed", detail="{reason}"
):
    reason: str


class SessionNotOpen(ProblemType, status=409, title="The session is not open", detail="{reason}"):
    reason: str


class InvalidRegistrationState(
    ProblemType,
    status=409,
    title="Not possible now",
    detail="Registration {registration_id} is {registration_status}.",
):
    registration_id: str
    registration_status: str


class AlreadyCheckedIn(
    ProblemType,
    status=409,
    title="Already checked in",
    detail="This place was checked in at {checked_in_at}.",
):
    checked_in_at: str


class NotRegistered(
    ProblemType,
    status=409,
    title="No confirmed place",
    detail="Member {member_id} holds no confirmed place in session {session_id}.",
):
    member_id: str
    session_id: str


class AlreadyCheckedInToday(
    ProblemType,
    status=409,
    title="Already checked in that day",
    detail="Day {day} already has a check-in, made at {checked_in_at}.",
):
    day: str
    checked_in_at: str


class OutsideChallenge(
    ProblemType, status=409, title="Not a day of the challenge", detail="{reason}"
):
    reason: str


class NoMakeupCards(
    ProblemType,
    status=409,
    title="No make-up cards left",
    detail="All {limit} make-up cards are used.",
):
    limit: int


class NotAChallenge(
    ProblemType,
    status=409,
    title="Not a check-in challenge",
    detail="Activity {activity_id} is not of kind checkin_challenge.",
):
    activity_id: str


class NothingToDraw(ProblemType, status=409, title="Nothing to draw", detail="{reason}"):
    reason: str


class FeedbackExists(
    ProblemType,
    status=409,
    title="Feedback already given",
    detail="A member gives feedback on an activity once; see {feedback_id}.",
):
    feedback_id: str


class LinkedGroupDissolved(
    ProblemType,
    status=409,
    title="The group is dissolved",
    detail="Group {group_id} is dissolved; link a live one.",
):
    group_id: str


class CapacityBelowTaken(
    ProblemType,
    status=409,
    title="Capacity below places taken",
    detail="Session {session_id} already holds {taken} places; capacity cannot go to {capacity}.",
):
    session_id: str
    taken: int
    capacity: int
