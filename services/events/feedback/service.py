"""Taking feedback, once per member per activity. Never commits."""

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from services.common.contracts import FeedbackGiven
from services.common.ids import new_id
from services.events.activities.models import Activity
from services.events.feedback.models import Feedback, FeedbackIn
from services.events.problems import FeedbackExists, not_found
from services.events.publishing import publish
from services.events.replica.models import Community
from services.events.replica.service import member_in


def give(
    session: Session, *, community: Community, activity: Activity, body: FeedbackIn, now: datetime
) -> Feedback:
    """Record a member's feedback and publish `feedback_given`; a second time is a 409."""
    member = member_in(session, community=community, member_id=body.member_id)
    if member is None:
        raise not_found("member", body.member_id)
    feedback_id = new_id("fbk")
    inserted = session.execute(
        insert(Feedback.__table__)  # type: ignore[attr-defined]
        .values(
            id=feedback_id,
            workspace_id=activity.workspace_id,
            community_id=activity.community_id,
            activity_id=activity.id,
            member_id=member.id,
            rating=body.rating,
            nps=body.nps,
            comment=body.comment,
            given_at=now,
        )
        .on_conflict_do_nothing()
        .returning(Feedback.__table__.c.id)  # type: ignore[attr-defined]
    ).first()
    if inserted is None:
        earlier = session.exec(
            select(Feedback.id).where(
                Feedback.activity_id == activity.id, Feedback.member_id == member.id
            )
        ).one()
        raise FeedbackExists(feedback_id=earlier)
    publish(
        session,
        FeedbackGiven(
            member_id=member.id,
            community_id=activity.community_id,
            activity_id=activity.id,
            rating=body.rating,
            comment=body.comment,
            given_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=member.id,
    )
    feedback = session.get(Feedback, feedback_id)
    assert feedback is not None
    return feedback


def feedback_query(*, activity: Activity) -> object:
    return select(Feedback).where(
        Feedback.workspace_id == activity.workspace_id, Feedback.activity_id == activity.id
    )
