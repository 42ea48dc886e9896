"""Every problem metrics answers with, each defined once (the kit's named problems)."""

from services.common.http.problems import NotFound, ProblemType, problem_responses


class MetricUnknown(
    ProblemType,
    status=422,
    title="Unknown metric",
    detail="{metric} is not a metric; use one of: {known}",
    slug="metrics-metric-unknown",
):
    metric: str
    known: str


class RangeInvalid(
    ProblemType,
    status=422,
    title="The range is not valid",
    detail="{reason}",
    slug="metrics-range-invalid",
):
    reason: str


def community_not_found(community_id: str) -> NotFound:
    return NotFound(resource="community", resource_id=community_id)


def group_not_found(group_id: str) -> NotFound:
    return NotFound(resource="group", resource_id=group_id)


def report_not_found(week: str) -> NotFound:
    return NotFound(resource="weekly report of the week of", resource_id=week)


def range_invalid(reason: str) -> RangeInvalid:
    return RangeInvalid(reason=reason)


def metric_unknown(metric: str, known: list[str]) -> MetricUnknown:
    return MetricUnknown(metric=metric, known=", ".join(known))


# What the routes of a community's figures can answer besides 200, for the OpenAPI document.
FIGURE_PROBLEMS = problem_responses(401, NotFound, RangeInvalid, 422)
SERIES_PROBLEMS = problem_responses(401, NotFound, RangeInvalid, MetricUnknown, 422)
