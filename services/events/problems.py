"""Every problem the events service answers with, defined once: a stable slug (the end of the
`type` URL), a status and a title. Domain functions raise these; the kit renders them."""

from datetime import datetime
from typing import Any

from services.common.http.problems import Problem, field_problem, not_found

__all__ = ["Problem", "field_problem", "not_found"]


def invalid_transition(
    *, activity_id: str, current: str, target: str, allowed: list[str]
) -> Problem:
    return Problem(
        409,
        "invalid-transition",
        "Impossible transition",
        f"Activity {activity_id} is {current}; it cannot become {target}.",
        current=current,
        target=target,
        allowed=allowed,
    )


def not_eligible(condition: str, detail: str, **extra: Any) -> Problem:
    """The member fails one of the activity's conditions; `condition` names which."""
    return Problem(403, "not-eligible", "Not eligible", detail, condition=condition, **extra)


def registration_closed(detail: str) -> Problem:
    return Problem(409, "registration-closed", "Registration is closed", detail)


def invalid_schedule(detail: str) -> Problem:
    return Problem(
        422,
        "invalid-schedule",
        "The schedule is not valid",
        detail,
        errors=[{"field": "schedule", "in": "body", "message": detail, "code": "invalid-schedule"}],
    )


def not_editable(detail: str) -> Problem:
    return Problem(409, "activity-not-editable", "The activity can no longer change so", detail)


def registration_state(detail: str, *, status: str) -> Problem:
    """The registration is not in a state that allows this (e.g. accepting a lapsed offer)."""
    return Problem(
        409, "invalid-registration-state", "Not possible now", detail, registration_status=status
    )


def already_checked_in(first_at: datetime) -> Problem:
    return Problem(
        409,
        "already-checked-in",
        "Already checked in",
        f"This place was checked in at {first_at.isoformat()}.",
        checked_in_at=first_at.isoformat(),
    )


def not_registered(detail: str) -> Problem:
    return Problem(409, "not-registered", "No confirmed place", detail)


def session_not_open(detail: str) -> Problem:
    return Problem(409, "session-not-open", "The session is not open", detail)


def challenge_day_taken(day: str, first_at: datetime) -> Problem:
    return Problem(
        409,
        "already-checked-in-today",
        "Already checked in that day",
        f"Day {day} already has a check-in, made at {first_at.isoformat()}.",
        day=day,
        checked_in_at=first_at.isoformat(),
    )


def outside_challenge(detail: str) -> Problem:
    return Problem(409, "outside-challenge", "Not a day of the challenge", detail)


def no_makeup_cards(limit: int) -> Problem:
    return Problem(
        409,
        "no-makeup-cards",
        "No make-up cards left",
        f"All {limit} make-up cards are used.",
        limit=limit,
    )


def not_a_challenge(activity_id: str) -> Problem:
    return Problem(
        409,
        "not-a-challenge",
        "Not a check-in challenge",
        f"Activity {activity_id} is not of kind checkin_challenge.",
    )


def nothing_to_draw(detail: str) -> Problem:
    return Problem(409, "nothing-to-draw", "Nothing to draw", detail)


def feedback_exists(feedback_id: str) -> Problem:
    return Problem(
        409,
        "feedback-exists",
        "Feedback already given",
        "A member gives feedback on an activity once.",
        feedback_id=feedback_id,
    )
