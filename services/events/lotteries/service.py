"""Running a draw and verifying it. Never commits.

Who may win is settled before the draw and recorded with it: the activity's registrants or
those checked in (or every member), narrowed by level and tags, each with an allowance that
takes the caps per member and per day into account. The draw then depends on nothing but
its record.
"""

import secrets
from collections import Counter
from datetime import datetime

from sqlmodel import Session, col, select

from services.common.clock import local_day
from services.common.contracts import DrawCompleted, DrawWinner
from services.common.ids import new_id
from services.events.activities.models import Activity, ActivityStatus
from services.events.lotteries.algorithm import ALGORITHM, run_draw
from services.events.lotteries.models import (
    Draw,
    DrawIn,
    DrawPublic,
    DrawRequirement,
    Entrant,
    Prize,
    Verification,
    Winner,
)
from services.events.problems import NothingToDraw, not_found
from services.events.publishing import publish
from services.events.registration.models import Registration, RegistrationStatus
from services.events.replica.models import MEMBER_STATUSES, Community, Member


def _candidates(session: Session, *, activity: Activity, body: DrawIn) -> list[Member]:
    query = select(Member).where(
        Member.community_id == activity.community_id,
        col(Member.status).in_(list(MEMBER_STATUSES)),
        Member.level >= body.min_level,
    )
    if body.requires != DrawRequirement.members:
        taking_part = select(Registration.member_id).where(
            Registration.activity_id == activity.id,
            Registration.status == RegistrationStatus.confirmed,
        )
        if body.requires == DrawRequirement.checked_in:
            taking_part = taking_part.where(col(Registration.checked_in_at).is_not(None))
        query = query.where(col(Member.id).in_(taking_part))
    members = list(session.exec(query))
    if body.tags_any:
        members = [m for m in members if set(body.tags_any) & set(m.tags)]
    return members


def _wins(draws: list[Draw]) -> Counter[str]:
    return Counter(w["member_id"] for d in draws for w in d.winners)


def draw(
    session: Session, *, community: Community, activity: Activity, body: DrawIn, now: datetime
) -> Draw:
    """Settle who may win, draw, and record it all."""
    if activity.status in (ActivityStatus.draft, ActivityStatus.cancelled):
        raise NothingToDraw(reason=f"Activity {activity.id} is {activity.status}.")
    # One draw at a time per activity, so caps see every earlier win.
    session.exec(select(Activity).where(Activity.id == activity.id).with_for_update()).first()
    day = local_day(now, community.timezone)
    earlier = _wins(list(session.exec(select(Draw).where(Draw.activity_id == activity.id))))
    today = _wins(
        list(
            session.exec(
                select(Draw).where(Draw.community_id == community.id, Draw.local_day == day)
            )
        )
    )
    cap = body.per_member_cap if body.allow_duplicate_winners else 1
    entrants = []
    for member in sorted(_candidates(session, activity=activity, body=body), key=lambda m: m.id):
        allowance = cap - earlier[member.id]
        if body.per_day_cap is not None:
            allowance = min(allowance, body.per_day_cap - today[member.id])
        if allowance > 0:
            entrants.append(Entrant(member_id=member.id, allowance=allowance))
    if not entrants:
        raise NothingToDraw(reason="No member meets the draw's conditions or has a win left.")
    seed = body.seed or secrets.token_hex(16)
    winners = run_draw(
        seed=seed, entrants=entrants, prizes=body.prizes, blank_weight=body.blank_weight
    )
    record = Draw(
        id=new_id("drw"),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        activity_id=activity.id,
        algorithm=ALGORITHM,
        seed=seed,
        prizes=[p.model_dump() for p in body.prizes],
        rules=body.model_dump(mode="json", exclude={"prizes", "seed"}),
        eligible=[e.model_dump() for e in entrants],
        winners=[w.model_dump() for w in winners],
        local_day=day,
        drawn_at=now,
    )
    session.add(record)
    session.flush()
    publish(
        session,
        DrawCompleted(
            draw_id=record.id,
            activity_id=activity.id,
            community_id=activity.community_id,
            algorithm=ALGORITHM,
            seed=seed,
            eligible_count=len(entrants),
            winners=[DrawWinner(member_id=w.member_id, prize=w.prize) for w in winners],
            drawn_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=activity.id,
    )
    return record


def draw_of(session: Session, *, activity: Activity, draw_id: str) -> Draw:
    record = session.get(Draw, draw_id)
    if record is None or record.activity_id != activity.id:
        raise not_found("draw", draw_id)
    return record


def verify(record: Draw) -> Verification:
    """Run the draw again from its record alone."""
    recorded = [Winner.model_validate(w) for w in record.winners]
    recomputed = run_draw(
        seed=record.seed,
        entrants=[Entrant.model_validate(e) for e in record.eligible],
        prizes=[Prize.model_validate(p) for p in record.prizes],
        blank_weight=float(record.rules.get("blank_weight", 0)),
    )
    return Verification(
        draw_id=record.id,
        algorithm=record.algorithm,
        matches=record.algorithm == ALGORITHM and recomputed == recorded,
        recorded=recorded,
        recomputed=recomputed,
    )


def public(record: Draw) -> DrawPublic:
    fields = {c.name: getattr(record, c.name) for c in Draw.__table__.columns}  # type: ignore[attr-defined]
    return DrawPublic.model_validate(fields)
