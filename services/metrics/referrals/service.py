"""Referral figures over a range of local days, K-factor included (docs/metrics.md)."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common.clock import day_bounds
from services.metrics.referrals.models import Referral, ReferralsPublic, ReferrerPublic
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope, daily_stats, ratio

TOP = 10


def record_referral(
    session: Session,
    *,
    referral_id: str,
    community: Community,
    referrer_id: str,
    invitee_id: str,
    outcome: str,
    reason: str | None,
    at: datetime,
) -> bool:
    """Keep a decided referral once; True when it is new."""
    row = session.execute(
        insert(Referral.__table__)  # type: ignore[attr-defined]
        .values(
            referral_id=referral_id,
            community_id=community.community_id,
            referrer_id=referrer_id,
            invitee_id=invitee_id,
            outcome=outcome,
            reason=reason,
            decided_at=at,
        )
        .on_conflict_do_nothing()
        .returning(sa.literal_column("referral_id"))
    ).first()
    return row is not None


def referrals(
    session: Session, *, community: Community, first: date, last: date
) -> ReferralsPublic:
    days = daily_stats(session, scope=Scope(community), first=first, last=last)
    start_total = days[0].members_total - days[0].net
    referred = sum(d.referred_joins for d in days)
    successes = sum(d.referral_successes for d in days)
    start = day_bounds(first, community.timezone).start
    end = day_bounds(last, community.timezone).end
    params = {"community": community.community_id, "start": start, "end": end}
    failures = dict(
        session.execute(
            sa.text(
                "SELECT coalesce(reason, 'unspecified'), count(*) FROM referral "
                "WHERE community_id = :community AND outcome = 'failed' "
                "AND decided_at >= :start AND decided_at < :end GROUP BY 1 ORDER BY 1"
            ),
            params,
        ).all()
    )
    top = session.execute(
        sa.text(
            "SELECT referrer_id, count(*) AS n FROM referral WHERE community_id = :community "
            "AND outcome = 'succeeded' AND decided_at >= :start AND decided_at < :end "
            "GROUP BY referrer_id ORDER BY n DESC, referrer_id LIMIT :top"
        ),
        params | {"top": TOP},
    ).all()
    referrers = session.execute(
        sa.text(
            "SELECT count(DISTINCT referrer_id) FROM referral WHERE community_id = :community "
            "AND outcome = 'succeeded' AND decided_at >= :start AND decided_at < :end"
        ),
        params,
    ).scalar_one()
    return ReferralsPublic(
        community_id=community.community_id,
        first=first,
        last=last,
        members_at_start=start_total,
        invited_group_joins=sum(d.invited_group_joins for d in days),
        referred_joins=referred,
        successes=successes,
        failures=sum(d.referral_failures for d in days),
        failures_by_reason={k: int(v) for k, v in failures.items()},
        referrers=referrers,
        invitation_rate=ratio(referred, start_total),
        conversion=ratio(successes, referred),
        k_factor=ratio(successes, start_total),
        top_referrers=[ReferrerPublic(member_id=r[0], successes=r[1]) for r in top],
    )
