"""The lifecycle funnel: members per stage now, and over a period how many entered each
stage, how many of those moved on, and how long members stayed in a stage.

Joining is entering `joined` (the join itself, not a stage change); every other entry is a
`member.stage_changed` to that stage. Entries are counted once per member and stage.
"""

import statistics
from collections import defaultdict
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session

from services.common.clock import day_bounds
from services.metrics.funnel.models import STAGES, StagePublic
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import ratio

_RANK = {stage: i for i, stage in enumerate(STAGES)}


def funnel(session: Session, *, community: Community, first: date, last: date) -> list[StagePublic]:
    start = day_bounds(first, community.timezone).start
    end = day_bounds(last, community.timezone).end
    params = {"community": community.community_id, "start": start, "end": end}
    now_by_stage = dict(
        session.execute(
            sa.text(
                "SELECT stage, count(*) FROM member WHERE community_id = :community AND present "
                "GROUP BY stage"
            ),
            params,
        ).all()
    )
    # Every step of every member: (member, stage entered, when), joins included.
    steps: defaultdict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for member_id, joined_at in session.execute(
        sa.text("SELECT member_id, joined_at FROM member WHERE community_id = :community"), params
    ):
        steps[member_id].append((joined_at, "joined"))
    for member_id, to_stage, changed_at in session.execute(
        sa.text(
            "SELECT member_id, to_stage, changed_at FROM stage_change "
            "WHERE community_id = :community"
        ),
        params,
    ):
        steps[member_id].append((changed_at, to_stage))

    entered: defaultdict[str, set[str]] = defaultdict(set)
    advanced: defaultdict[str, set[str]] = defaultdict(set)
    durations: defaultdict[str, list[float]] = defaultdict(list)
    for member_id, path in steps.items():
        path.sort()
        for i, (at, stage) in enumerate(path):
            later = path[i + 1 :]
            if start <= at < end:
                entered[stage].add(member_id)
                if any(_RANK.get(s, -1) > _RANK.get(stage, -1) for _, s in later):
                    advanced[stage].add(member_id)
            if later and start <= later[0][0] < end:
                durations[stage].append((later[0][0] - at).total_seconds() / 86400)

    return [
        StagePublic(
            stage=stage,
            members_now=now_by_stage.get(stage, 0),
            entered=len(entered[stage]),
            advanced=len(advanced[stage]),
            conversion=ratio(len(advanced[stage]), len(entered[stage])),
            median_days_in_stage=round(statistics.median(durations[stage]), 2)
            if durations[stage]
            else None,
        )
        for stage in STAGES
    ]
