"""The lifecycle funnel (rule 3's headline metric): current members by stage."""

from sqlmodel import Session, col, func, select

from services.common.clock import now
from services.members.community.models import Member
from services.members.lifecycle.models import Funnel, FunnelStage
from services.members.vocabulary import IN_GOOD_STANDING, Stage


def community_funnel(*, session: Session, workspace_id: str, community_id: str) -> Funnel:
    """Count current members (active, muted, pending) per stage, in lifecycle order."""
    counts: dict[str, int] = dict(
        session.exec(
            select(Member.stage, func.count())
            .where(
                Member.workspace_id == workspace_id,
                Member.community_id == community_id,
                col(Member.status).in_(IN_GOOD_STANDING),
            )
            .group_by(Member.stage)
        ).all()
    )
    total = sum(counts.values())
    stages, reached, previous = [], total, None
    for stage in Stage:
        here = counts.get(stage, 0)
        conversion: float | None = round(reached / previous, 4) if previous else None
        stages.append(
            FunnelStage(stage=stage, members=here, reached=reached, conversion=conversion)
        )
        previous, reached = reached, reached - here
    return Funnel(community_id=community_id, total=total, stages=stages, as_of=now())
