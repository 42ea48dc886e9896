"""Temporary groups for activities (rule 11). An activity that wants one asks for it with an
event when it is published; members creates it (`kind: temporary`, dissolved at the end plus
a grace period) or an operator links an existing group. Once linked, every confirmed
registrant is invited through an event bots act on. Never commits."""

from datetime import datetime, timedelta

from sqlmodel import Session, select

from services.common.contracts import (
    GroupInvitationRequested,
    PlatformIdentity,
    TemporaryGroupRequested,
)
from services.events.activities.models import Activity, TemporaryGroupSpec
from services.events.activities.plan import announce_plan
from services.events.problems import LinkedGroupDissolved, not_found
from services.events.publishing import publish
from services.events.registration.models import Registration, RegistrationStatus
from services.events.replica.models import ChatGroup, Community, Member, MemberIdentity


def request_group(session: Session, *, activity: Activity, now: datetime) -> bool:
    """Publish the request for the activity's temporary group, if it wants one."""
    if activity.temporary_group is None or activity.group_id is not None:
        return False
    spec = TemporaryGroupSpec.model_validate(activity.temporary_group)
    publish(
        session,
        TemporaryGroupRequested(
            activity_id=activity.id,
            community_id=activity.community_id,
            platform=spec.platform,
            name=spec.name or activity.title,
            capacity=spec.capacity,
            dissolve_at=activity.ends_at + timedelta(hours=spec.grace_hours),
            requested_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=activity.id,
    )
    return True


def invite(session: Session, *, activity: Activity, member_id: str, now: datetime) -> bool:
    """Ask bots to invite one member to the activity's group, if it has one."""
    if activity.group_id is None:
        return False
    group = session.get(ChatGroup, activity.group_id)
    member = session.get(Member, member_id)
    if group is None or member is None:
        return False
    identities = session.exec(
        select(MemberIdentity).where(
            MemberIdentity.member_id == member_id, MemberIdentity.platform == group.platform
        )
    ).all()
    publish(
        session,
        GroupInvitationRequested(
            activity_id=activity.id,
            community_id=activity.community_id,
            group_id=group.id,
            platform=group.platform,
            group_external_id=group.external_id,
            member_id=member_id,
            identities=[
                PlatformIdentity(platform=i.platform, external_id=i.external_id) for i in identities
            ],
            requested_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=member_id,
    )
    return True


def link_group(
    session: Session, *, community: Community, activity: Activity, group_id: str, now: datetime
) -> int:
    """Make a group the activity's group and invite everyone confirmed so far."""
    group = session.get(ChatGroup, group_id)
    if group is None or group.community_id != community.id:
        raise not_found("group", group_id)
    if group.state == "dissolved":
        raise LinkedGroupDissolved(group_id=group_id)
    activity.group_id = group.id
    session.add(activity)
    announce_plan(session, activity=activity, now=now)
    confirmed = session.exec(
        select(Registration.member_id)
        .where(
            Registration.activity_id == activity.id,
            Registration.status == RegistrationStatus.confirmed,
        )
        .distinct()
    ).all()
    return sum(invite(session, activity=activity, member_id=m, now=now) for m in sorted(confirmed))
