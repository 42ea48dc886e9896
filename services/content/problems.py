"""Every problem the content service answers with, each defined once as a named problem
(the kit's `ProblemType`): raised by name with typed parameters, listed in the OpenAPI
document. Slugs are the content service's own, so no other service's type is redefined."""

from services.common.http.problems import NotFound, ProblemType


def community_not_found(community_id: str) -> NotFound:
    # Communities come from members' events: one made a moment ago may not be here yet.
    return NotFound(resource="community", resource_id=community_id)


def content_not_found(item_id: str) -> NotFound:
    return NotFound(resource="content item", resource_id=item_id)


def schedule_not_found(schedule_id: str) -> NotFound:
    return NotFound(resource="schedule", resource_id=schedule_id)


def submission_not_found(submission_id: str) -> NotFound:
    return NotFound(resource="submission", resource_id=submission_id)


class ContentStateConflict(
    ProblemType,
    status=409,
    title="Not allowed in this state",
    detail="A {what} in state {state} cannot be {action}.",
):
    what: str
    state: str
    action: str


class ContentNotApproved(
    ProblemType,
    status=422,
    title="Content not approved",
    detail="Content item {content_item_id} is {state}; only approved content is scheduled.",
    field="content_item_id",
):
    content_item_id: str
    state: str


class InvalidRecurrence(
    ProblemType,
    status=422,
    title="Invalid recurrence",
    detail="{reason}",
    field="rrule",
):
    reason: str


class QuietHoursIncomplete(
    ProblemType,
    status=422,
    title="Quiet hours incomplete",
    detail="{reason}",
    field="quiet_hours",
):
    reason: str


class ScheduleTimezoneUnknown(
    ProblemType,
    status=422,
    title="Unknown timezone",
    detail="{reason}",
    field="timezone",
):
    reason: str


class ScheduleTargetInvalid(
    ProblemType,
    status=422,
    title="Invalid target",
    detail="Not groups of this community that can be posted in: {group_ids}.",
    field="target.group_ids",
):
    group_ids: list[str]


class OccurrenceWindowInvalid(
    ProblemType, status=400, title="Invalid time window", detail="{reason}"
):
    reason: str


class RejectionReasonRequired(
    ProblemType,
    status=422,
    title="Rejection reason required",
    detail="Rejecting submission {submission_id} needs a reason the author can read.",
    field="reason",
):
    submission_id: str


class SubmissionAuthorUnknown(
    ProblemType,
    status=422,
    title="Submission author unknown",
    detail="Submission {submission_id} came from someone the members service has not told "
    "us about; name the member to credit.",
    field="member_id",
):
    submission_id: str


def playbook_not_found(playbook_id: str) -> NotFound:
    return NotFound(resource="playbook", resource_id=playbook_id)
