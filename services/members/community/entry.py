"""Entry thresholds (rule 5, "a community without a threshold is just a crowd"): who may
join, and in which status they start."""

from sqlmodel import Session, select

from services.members import problems
from services.members.community.models import Community, Member, MemberCreate
from services.members.community.settings import EntryPolicy
from services.members.vocabulary import MemberStatus


def find_by_invite_code(*, session: Session, community_id: str, code: str) -> Member | None:
    """The community's member whose referral code this is (codes are read case-blind)."""
    return session.exec(
        select(Member).where(
            Member.community_id == community_id, Member.invite_code == code.upper()
        )
    ).one_or_none()


def admission(
    *, session: Session, community: Community, member_in: MemberCreate
) -> tuple[MemberStatus, Member | None]:
    """Check the entry threshold; returns the status to start in and the referrer, if any."""
    entry = community.rules().entry
    code = (member_in.invite_code or "").strip()
    referrer = (
        find_by_invite_code(session=session, community_id=community.id, code=code) if code else None
    )
    if code and referrer is None and code not in entry.codes:
        raise problems.InvalidInviteCode()
    match entry.policy:
        case EntryPolicy.open:
            return MemberStatus.active, referrer
        case EntryPolicy.approval:
            return MemberStatus.pending, referrer
        case EntryPolicy.invite_code:
            if not code:
                raise problems.InviteCodeRequired()
            return MemberStatus.active, referrer
        case EntryPolicy.paid:
            if not (member_in.payment_reference or "").strip():
                raise problems.PaymentRequired()
            return MemberStatus.active, referrer
        case EntryPolicy.questionnaire:
            answers = [a.strip() for a in member_in.answers or []]
            if len(answers) != len(entry.questions) or not all(answers):
                raise problems.QuestionnaireIncomplete(questions=len(entry.questions))
            return MemberStatus.pending, referrer
    raise AssertionError(entry.policy)
