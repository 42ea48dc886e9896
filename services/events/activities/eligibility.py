"""Who may take part in an activity: a member (or a lead, when the activity is open to
leads) with the minimum level, one of the roles and one of the tags it asks for. Answered
from the local replica, so registration never waits on the members service."""

from dataclasses import dataclass

from services.events.activities.models import Activity, EligibilityAudience
from services.events.problems import NotEligible
from services.events.replica.models import Member


@dataclass(frozen=True)
class Failure:
    condition: str
    detail: str


def first_failure(activity: Activity, member: Member | None) -> Failure | None:
    """The first condition the member fails, or None when eligible."""
    rules = activity.rules()
    if member is None:
        return Failure("not-a-member", "No such member in this community.")
    if member.status == "lead":
        if rules.audience != EligibilityAudience.members_and_leads:
            return Failure("leads-not-allowed", "This activity is for members only.")
    elif not member.is_member:
        return Failure("not-a-member", f"The member is {member.status}, not an active member.")
    if member.level < rules.min_level:
        return Failure(
            "level-too-low",
            f"Level {rules.min_level} is required; the member is at {member.level}.",
        )
    if rules.roles_any and member.role not in rules.roles_any:
        return Failure("role-not-allowed", f"One of the roles {rules.roles_any} is required.")
    if rules.tags_any and not set(rules.tags_any) & set(member.tags):
        return Failure("missing-tag", f"One of the tags {rules.tags_any} is required.")
    return None


def require_eligible(activity: Activity, member: Member | None) -> Member:
    failure = first_failure(activity, member)
    if failure is not None:
        raise NotEligible(condition=failure.condition, reason=failure.detail)
    assert member is not None
    return member
