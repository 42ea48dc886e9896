"""Every problem metrics answers with, defined once (RFC 9457 problem details)."""

from services.common.http.problems import Problem


def community_not_found(community_id: str) -> Problem:
    return Problem(
        404, "not-found", "Not found", f"community {community_id} does not exist (yet) in metrics"
    )


def group_not_found(group_id: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"group {group_id} does not exist in metrics")


def report_not_found(week: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"no weekly report for the week of {week}")


def range_invalid(detail: str) -> Problem:
    """A `from`/`to` range that is reversed or too long to answer."""
    return Problem(
        422,
        "metrics-range-invalid",
        "The range is not valid",
        detail,
        errors=[{"field": "from", "in": "query", "message": detail, "code": "range-invalid"}],
    )


def metric_unknown(metric: str, known: list[str]) -> Problem:
    detail = f"{metric!r} is not a metric; use one of: {', '.join(known)}"
    return Problem(
        422,
        "metrics-metric-unknown",
        "Unknown metric",
        detail,
        errors=[{"field": "metric", "in": "query", "message": detail, "code": "metric-unknown"}],
    )
