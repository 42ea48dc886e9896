"""The lifecycle funnel (rule 3's headline metric): current members by stage."""

from datetime import datetime

from sqlmodel import Session, SQLModel, col, func, select

from services.members.activity import IN_GOOD_STANDING
from services.members.models import Member, Stage, now


class FunnelStage(SQLModel):
    stage: Stage
    members: int  # in this stage now
    reached: int  # in this stage or further
    conversion: float | None  # reached / the previous stage's reached; None after nobody


class Funnel(SQLModel):
    community_id: str
    total: int
    stages: list[FunnelStage]
    as_of: datetime


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
