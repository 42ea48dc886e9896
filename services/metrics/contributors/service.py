"""Top contributors of a community over a range, and who among them could be a KOL
(rule 16): members who speak often and on many days, not yet KOLs, experts or operators."""

from datetime import date

import sqlalchemy as sa
from sqlmodel import Session

from services.common.http.pagination import PageParams, asc, desc, paginate
from services.metrics.contributors.models import ContributorPublic
from services.metrics.replica.models import Community, Member, MemberIdentity
from services.metrics.rollups.models import CommunitySpeakerDay

MIN_KOL_MESSAGES = 10
KOL_PERCENTILE = 0.9

_days = CommunitySpeakerDay.__table__  # type: ignore[attr-defined]
_identity = MemberIdentity.__table__  # type: ignore[attr-defined]
_member = Member.__table__  # type: ignore[attr-defined]


def contributors(
    session: Session, *, community: Community, first: date, last: date, paging: PageParams
) -> tuple[list[ContributorPublic], str | None]:
    """Speakers by messages in the range, most first."""
    totals = (
        sa.select(
            _days.c.speaker,
            sa.func.sum(_days.c.messages).label("messages"),
            sa.func.count().label("active_days"),
            sa.func.sum(_days.c.replies).label("replies"),
        )
        .where(_days.c.community_id == community.community_id, _days.c.day.between(first, last))
        .group_by(_days.c.speaker)
        .subquery()
    )
    cut = session.execute(
        sa.select(sa.func.percentile_cont(KOL_PERCENTILE).within_group(totals.c.messages))
    ).scalar_one()
    statement = (
        sa.select(
            totals.c.speaker,
            totals.c.messages,
            totals.c.active_days,
            totals.c.replies,
            _member.c.member_id,
            _member.c.role,
        )
        .select_from(totals)
        .outerjoin(
            _identity,
            sa.and_(
                _identity.c.community_id == community.community_id,
                _identity.c.speaker == totals.c.speaker,
            ),
        )
        .outerjoin(_member, _member.c.member_id == _identity.c.member_id)
    )
    rows, cursor = paginate(
        session,
        statement,
        [desc(totals.c.messages, "messages"), asc(totals.c.speaker, "speaker")],
        paging,
    )
    span = (last - first).days + 1
    return [
        ContributorPublic(
            speaker=r.speaker,
            member_id=r.member_id,
            role=r.role,
            messages=int(r.messages),
            active_days=int(r.active_days),
            replies=int(r.replies),
            kol_candidate=(r.role or "member") == "member"
            and r.active_days * 2 >= span
            and r.messages >= max(MIN_KOL_MESSAGES, cut or 0),
        )
        for r in rows
    ], cursor
