"""Routes for daily check-in challenges (打卡): check-ins, make-up cards, a participant's
record and the leaderboard."""

from fastapi import APIRouter
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.pagination import Page, Paging, asc, desc, paginate
from services.events.challenges.models import (
    ChallengeParticipant,
    DailyCheckInIn,
    DailyCheckInPublic,
    LeaderboardEntry,
    MakeupIn,
    ParticipantPublic,
)
from services.events.challenges.service import (
    challenge_of,
    check_in,
    leaderboard_query,
    make_up,
    participant_public,
)
from services.events.deps import CommunityDep
from services.events.problems import (
    AlreadyCheckedInToday,
    NoMakeupCards,
    NotAChallenge,
    NotEligible,
    NotFound,
    OutsideChallenge,
    RegistrationClosed,
    problem_responses,
)

router = APIRouter(prefix="/v1/communities/{community_id}/challenges", tags=["challenges"])

_CONFLICTS = (
    "`already-checked-in-today` (with the first `checked_in_at`), `outside-challenge`, "
    "`no-makeup-cards`, `not-a-challenge`."
)


@router.post(
    "/{challenge_id}/check-ins",
    response_model=DailyCheckInPublic,
    status_code=201,
    responses=problem_responses(
        NotFound,
        NotEligible,
        AlreadyCheckedInToday,
        OutsideChallenge,
        NotAChallenge,
        RegistrationClosed,
    ),
)
def create_check_in(
    challenge_id: str, body: DailyCheckInIn, community: CommunityDep, session: SessionDep
) -> DailyCheckInPublic:
    """Today's check-in, today in the community's timezone. The challenge id is its
    activity's id. Publishes `check_in_recorded` (and tier and completion events)."""
    answer = check_in(
        session,
        community=community,
        challenge_id=challenge_id,
        member_id=body.member_id,
        now=now(),
        text=body.text,
        link=body.link,
    )
    session.commit()
    return answer


@router.post(
    "/{challenge_id}/makeups",
    response_model=DailyCheckInPublic,
    status_code=201,
    responses=problem_responses(
        NotFound,
        NotEligible,
        AlreadyCheckedInToday,
        OutsideChallenge,
        NoMakeupCards,
        NotAChallenge,
        RegistrationClosed,
    ),
)
def create_makeup(
    challenge_id: str, body: MakeupIn, community: CommunityDep, session: SessionDep
) -> DailyCheckInPublic:
    """Use a make-up card (补卡) for a missed day before today."""
    answer = make_up(
        session,
        community=community,
        challenge_id=challenge_id,
        member_id=body.member_id,
        day=body.day,
        now=now(),
        text=body.text,
    )
    session.commit()
    return answer


@router.get("/{challenge_id}/participants/{member_id}", response_model=ParticipantPublic)
def get_participant(
    challenge_id: str, member_id: str, community: CommunityDep, session: SessionDep
) -> ParticipantPublic:
    return participant_public(
        session, community=community, challenge_id=challenge_id, member_id=member_id
    )


@router.get(
    "/{challenge_id}/leaderboard",
    response_model=Page[LeaderboardEntry],
    responses=problem_responses(NotFound, NotAChallenge),
)
def challenge_leaderboard(
    challenge_id: str, community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[LeaderboardEntry]:
    """Most days first, then the longest current streak."""
    activity, _ = challenge_of(session, community=community, challenge_id=challenge_id)
    rows, cursor = paginate(
        session,
        leaderboard_query(activity=activity),  # type: ignore[arg-type]
        (
            desc(col(ChallengeParticipant.days)),
            desc(col(ChallengeParticipant.streak)),
            asc(col(ChallengeParticipant.member_id)),
        ),
        paging,
    )
    first_page = paging.cursor is None
    return Page(
        data=[
            LeaderboardEntry(
                rank=i if first_page else None,
                member_id=r.member_id,
                days=r.days,
                streak=r.streak,
                best_streak=r.best_streak,
                completed=r.completed_at is not None,
            )
            for i, r in enumerate(rows, start=1)
        ],
        next_cursor=cursor,
    )
