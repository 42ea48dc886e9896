"""Every problem the content service answers with, defined once.

Until the kit's named-problem mechanism lands, these build the kit's `Problem`; a route
raises `problems.content_not_approved(...)`, never a bare status code.
"""

from services.common.http.problems import Problem, field_problem, not_found


def community_not_found(community_id: str) -> Problem:
    # Communities come from members' events: a community made a moment ago may not be here yet.
    return not_found("community", community_id)


def group_not_found(group_id: str) -> Problem:
    return not_found("group", group_id)


def content_not_found(item_id: str) -> Problem:
    return not_found("content item", item_id)


def schedule_not_found(schedule_id: str) -> Problem:
    return not_found("schedule", schedule_id)


def submission_not_found(submission_id: str) -> Problem:
    return not_found("submission", submission_id)


def invalid_transition(what: str, state: str, action: str) -> Problem:
    return Problem(
        409,
        "invalid-transition",
        "Not allowed in this state",
        f"A {what} in state {state!r} cannot be {action}.",
        state=state,
    )


def content_not_approved(field: str, item_id: str, status: str) -> Problem:
    return field_problem(
        field,
        f"content item {item_id} is {status}; only approved content can be scheduled",
        "content-not-approved",
    )


def invalid_recurrence(field: str, reason: str) -> Problem:
    return field_problem(field, reason, "invalid-recurrence")


def unknown_timezone(field: str, reason: str) -> Problem:
    return field_problem(field, reason, "unknown-timezone")


def invalid_target(field: str, reason: str) -> Problem:
    return field_problem(field, reason, "invalid-target")


def invalid_window(reason: str) -> Problem:
    return Problem(400, "invalid-window", "Invalid time window", reason)


def reason_required() -> Problem:
    return field_problem(
        "reason", "a rejection needs a reason the author can read", "reason-required"
    )


def author_unknown(submission_id: str) -> Problem:
    return field_problem(
        "member_id",
        f"submission {submission_id} came from someone members has not told us about; "
        "name the member to credit",
        "author-unknown",
    )
