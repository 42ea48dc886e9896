"""Telling the platform an activity's plan: once published, every change to what is on the
community's calendar (status, time, place, sessions, group) is announced whole, so content
keeps its calendar from the latest announcement alone."""

from datetime import datetime

from sqlmodel import Session

from services.common.contracts import ActivityPlanned, PlannedSession
from services.events.activities.models import Activity, ActivityStatus
from services.events.activities.service import sessions_of
from services.events.publishing import publish


def announce_plan(session: Session, *, activity: Activity, now: datetime) -> None:
    """Publish the plan as it stands in this transaction; a draft is nobody's business yet."""
    if activity.status == ActivityStatus.draft:
        return
    session.flush()
    publish(
        session,
        ActivityPlanned(
            activity_id=activity.id,
            community_id=activity.community_id,
            kind=activity.kind,
            title=activity.title,
            status=activity.status,
            place=activity.place,
            online_url=activity.online_url,
            group_id=activity.group_id,
            sessions=[
                PlannedSession(
                    session_id=row.id,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    status=row.status,
                )
                for row in sessions_of(session, activity=activity)
            ],
            changed_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=activity.id,
    )
