"""Reminders 24 hours and 1 hour before each session, as events bots deliver to the confirmed
members. A session only reminds while scheduled and its activity live, so a cancelled one
sends none; a reminder whose moment passed while nobody ran the job is skipped when a later
one is already due (a 1 h reminder makes a 24 h one pointless)."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from services.common.contracts import PlatformIdentity, Recipient, ReminderDue
from services.events.activities.models import (
    Activity,
    ActivitySession,
    ActivityStatus,
    SessionStatus,
)
from services.events.publishing import publish
from services.events.registration.models import Registration, RegistrationStatus
from services.events.replica.models import MemberIdentity

LEADS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))
LIVE = (
    ActivityStatus.published,
    ActivityStatus.registration_open,
    ActivityStatus.closed,
    ActivityStatus.running,
)


def send_due_reminders(session: Session, now: datetime) -> int:
    """Periodic: publish every reminder now due; returns how many."""
    rows = session.exec(
        select(ActivitySession, Activity)
        .join(Activity, col(Activity.id) == col(ActivitySession.activity_id))
        .where(
            ActivitySession.status == SessionStatus.scheduled,
            col(ActivitySession.starts_at) > now,
            col(ActivitySession.starts_at) <= now + LEADS[0][1],
            or_(
                col(ActivitySession.reminded_24h).is_(False),
                col(ActivitySession.reminded_1h).is_(False),
            ),
            col(Activity.status).in_(list(LIVE)),
        )
        .with_for_update(of=ActivitySession, skip_locked=True)
        .limit(500)
    ).all()
    sent = 0
    for row, activity in rows:
        one_hour_due = row.starts_at - now <= LEADS[1][1]
        lead = None
        if one_hour_due and not row.reminded_1h:
            lead = "1h"
            row.reminded_1h = row.reminded_24h = True
        elif not one_hour_due and not row.reminded_24h:
            lead = "24h"
            row.reminded_24h = True
        session.add(row)
        if lead is None:
            continue
        members = session.exec(
            select(Registration.member_id)
            .where(
                Registration.session_id == row.id,
                Registration.status == RegistrationStatus.confirmed,
            )
            .order_by(col(Registration.arrival))
        ).all()
        known: dict[str, list[PlatformIdentity]] = {m: [] for m in members}
        for identity in session.exec(
            select(MemberIdentity)
            .where(col(MemberIdentity.member_id).in_(list(members)))
            .order_by(col(MemberIdentity.platform), col(MemberIdentity.external_id))
        ):
            known[identity.member_id].append(
                PlatformIdentity(platform=identity.platform, external_id=identity.external_id)
            )
        publish(
            session,
            ReminderDue(
                activity_id=activity.id,
                session_id=row.id,
                community_id=activity.community_id,
                title=activity.title,
                lead=lead,
                starts_at=row.starts_at,
                online_url=activity.online_url,
                place=activity.place,
                member_ids=list(members),
                recipients=[Recipient(member_id=m, identities=known[m]) for m in members],
                due_at=now,
            ),
            workspace_id=activity.workspace_id,
            community_id=activity.community_id,
            subject=row.id,
        )
        sent += 1
    return sent
