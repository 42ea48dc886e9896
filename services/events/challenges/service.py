"""Daily check-ins, make-up cards, tiers, completion and the leaderboard. Never commits.

One check-in per local calendar day in the community's timezone: the day is the clock's
`local_day`, so 23:59 and 00:01 in Shanghai are two days, and Berlin's 25-hour night in
October is one. The participant's row is locked while a check-in is recorded, so two at once
cannot both take the same day or the last make-up card.
"""

from datetime import date, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import local_day
from services.common.contracts import ChallengeCompleted, ChallengeTierReached, CheckInRecorded
from services.events.activities.eligibility import require_eligible
from services.events.activities.models import Activity, ActivityKind, ActivityStatus, ChallengeSpec
from services.events.activities.service import activity_of
from services.events.challenges.models import (
    ChallengeCheckIn,
    ChallengeParticipant,
    DailyCheckInPublic,
    ParticipantPublic,
)
from services.events.challenges.streaks import best_streak, current_streak
from services.events.problems import (
    AlreadyCheckedInToday,
    NoMakeupCards,
    NotAChallenge,
    OutsideChallenge,
    RegistrationClosed,
)
from services.events.publishing import publish
from services.events.replica.models import Community
from services.events.replica.service import member_in

OPEN = frozenset(
    {
        ActivityStatus.published,
        ActivityStatus.registration_open,
        ActivityStatus.closed,
        ActivityStatus.running,
    }
)


def challenge_of(
    session: Session, *, community: Community, challenge_id: str
) -> tuple[Activity, ChallengeSpec]:
    activity = activity_of(session, community=community, activity_id=challenge_id)
    if activity.kind != ActivityKind.checkin_challenge or activity.challenge is None:
        raise NotAChallenge(activity_id=activity.id)
    return activity, ChallengeSpec.model_validate(activity.challenge)


def _locked_participant(
    session: Session, activity: Activity, member_id: str
) -> ChallengeParticipant:
    session.execute(
        insert(ChallengeParticipant.__table__)  # type: ignore[attr-defined]
        .values(
            challenge_id=activity.id,
            member_id=member_id,
            workspace_id=activity.workspace_id,
            community_id=activity.community_id,
            days=0,
            streak=0,
            best_streak=0,
            makeups_used=0,
            tiers_reached=[],
        )
        .on_conflict_do_nothing()
    )
    return session.exec(
        select(ChallengeParticipant)
        .where(
            ChallengeParticipant.challenge_id == activity.id,
            ChallengeParticipant.member_id == member_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _days(session: Session, activity: Activity, member_id: str) -> list[date]:
    rows = session.execute(
        select(ChallengeCheckIn.__table__.c.day)  # type: ignore[attr-defined]
        .where(
            col(ChallengeCheckIn.challenge_id) == activity.id,
            col(ChallengeCheckIn.member_id) == member_id,
        )
        .order_by(ChallengeCheckIn.__table__.c.day)  # type: ignore[attr-defined]
    ).scalars()
    return list(rows)


def _record(
    session: Session,
    *,
    community: Community,
    activity: Activity,
    spec: ChallengeSpec,
    member_id: str,
    day: date,
    makeup: bool,
    text: str | None,
    link: str | None,
    now: datetime,
) -> DailyCheckInPublic:
    if activity.status not in OPEN:
        raise RegistrationClosed(reason=f"Challenge {activity.id} is {activity.status}.")
    if not spec.starts_on <= day <= spec.ends_on:
        raise OutsideChallenge(
            reason=f"{day} is not within the challenge ({spec.starts_on} to {spec.ends_on}, "
            f"in {community.timezone})."
        )
    member = require_eligible(
        activity, member_in(session, community=community, member_id=member_id)
    )
    participant = _locked_participant(session, activity, member.id)
    existing = session.get(ChallengeCheckIn, (activity.id, member.id, day))
    if existing is not None:
        raise AlreadyCheckedInToday(
            day=day.isoformat(), checked_in_at=existing.recorded_at.isoformat()
        )
    if makeup:
        if participant.makeups_used >= spec.makeup_cards:
            raise NoMakeupCards(limit=spec.makeup_cards)
        participant.makeups_used += 1
    session.add(
        ChallengeCheckIn(
            challenge_id=activity.id,
            member_id=member.id,
            day=day,
            workspace_id=activity.workspace_id,
            recorded_at=now,
            text=text,
            link=link,
            makeup=makeup,
        )
    )
    session.flush()
    days = _days(session, activity, member.id)
    participant.days = len(days)
    participant.streak = current_streak(days)
    participant.best_streak = best_streak(days)
    participant.last_day = days[-1]

    def emit(data: object) -> None:
        publish(
            session,
            data,  # type: ignore[arg-type]
            workspace_id=activity.workspace_id,
            community_id=activity.community_id,
            subject=member.id,
        )

    emit(
        CheckInRecorded(
            member_id=member.id,
            community_id=activity.community_id,
            challenge_id=activity.id,
            day=day.isoformat(),
            streak=participant.streak,
            recorded_at=now,
        )
    )
    reached = list(participant.tiers_reached)
    for tier in sorted(spec.tiers, key=lambda t: t.days):
        if participant.days >= tier.days and tier.name not in reached:
            reached.append(tier.name)
            emit(
                ChallengeTierReached(
                    challenge_id=activity.id,
                    community_id=activity.community_id,
                    member_id=member.id,
                    tier=tier.name,
                    days=participant.days,
                    points=tier.points,
                    badge=tier.badge,
                    reached_at=now,
                )
            )
    participant.tiers_reached = reached
    total = (spec.ends_on - spec.starts_on).days + 1
    if participant.completed_at is None and participant.days == total:
        participant.completed_at = now
        emit(
            ChallengeCompleted(
                challenge_id=activity.id,
                community_id=activity.community_id,
                member_id=member.id,
                days=participant.days,
                makeups_used=participant.makeups_used,
                completed_at=now,
            )
        )
    session.add(participant)
    session.flush()
    return DailyCheckInPublic(
        challenge_id=activity.id,
        member_id=member.id,
        day=day,
        makeup=makeup,
        recorded_at=now,
        streak=participant.streak,
        days=participant.days,
    )


def check_in(
    session: Session,
    *,
    community: Community,
    challenge_id: str,
    member_id: str,
    now: datetime,
    text: str | None = None,
    link: str | None = None,
) -> DailyCheckInPublic:
    """Today's check-in, today being the community's local day at `now`."""
    activity, spec = challenge_of(session, community=community, challenge_id=challenge_id)
    return _record(
        session,
        community=community,
        activity=activity,
        spec=spec,
        member_id=member_id,
        day=local_day(now, community.timezone),
        makeup=False,
        text=text,
        link=link,
        now=now,
    )


def make_up(
    session: Session,
    *,
    community: Community,
    challenge_id: str,
    member_id: str,
    day: date,
    now: datetime,
    text: str | None = None,
) -> DailyCheckInPublic:
    """Fill a missed past day with one of the challenge's make-up cards (补卡)."""
    activity, spec = challenge_of(session, community=community, challenge_id=challenge_id)
    if day >= local_day(now, community.timezone):
        raise OutsideChallenge(
            reason="A make-up card fills a day that has passed; check in for today."
        )
    return _record(
        session,
        community=community,
        activity=activity,
        spec=spec,
        member_id=member_id,
        day=day,
        makeup=True,
        text=text,
        link=None,
        now=now,
    )


def participant_public(
    session: Session, *, community: Community, challenge_id: str, member_id: str
) -> ParticipantPublic:
    activity, spec = challenge_of(session, community=community, challenge_id=challenge_id)
    row = session.get(ChallengeParticipant, (activity.id, member_id))
    days = _days(session, activity, member_id)
    return ParticipantPublic(
        challenge_id=activity.id,
        member_id=member_id,
        days=row.days if row else 0,
        streak=row.streak if row else 0,
        best_streak=row.best_streak if row else 0,
        last_day=row.last_day if row else None,
        makeups_used=row.makeups_used if row else 0,
        makeups_left=spec.makeup_cards - (row.makeups_used if row else 0),
        tiers_reached=list(row.tiers_reached) if row else [],
        completed_at=row.completed_at if row else None,
        check_in_days=days,
    )


def leaderboard_query(*, activity: Activity) -> object:
    return select(ChallengeParticipant).where(
        ChallengeParticipant.workspace_id == activity.workspace_id,
        ChallengeParticipant.challenge_id == activity.id,
        ChallengeParticipant.days > 0,
    )
