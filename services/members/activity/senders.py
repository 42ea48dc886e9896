"""Who a bot's report is about: the group it comes from and the member behind the sender.

Every handler of bot-reported activity starts here (activity, lifecycle, moderation, group
membership); they run in one transaction, so the first creates an unknown sender and the
others find them.
"""

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.cloudevents import CloudEvent
from services.common.contracts import PlatformIdentity
from services.common.contracts.ingest import GroupActivity
from services.common.ids import new_id
from services.members.community.members import (
    add_member,
    admission_event,
    announce_admission,
    find_member_by_identity,
    new_invite_code,
)
from services.members.community.models import Member, MemberIdentity
from services.members.community.service import get_community
from services.members.groups.models import Group
from services.members.publishing import emit_all
from services.members.vocabulary import MemberStatus, Platform, Role, Stage


def sender_of(
    session: Session, event: CloudEvent, data: GroupActivity
) -> tuple[Group, Member] | None:
    """`resolve_sender` for a bot's event, once per event and transaction: the handlers of
    one event (activity, lifecycle, moderation) all ask, and the answer cannot change between
    them."""
    resolved: dict[str, tuple[Group, Member] | None] = session.info.setdefault("senders", {})
    if event.id not in resolved:
        resolved[event.id] = resolve_sender(
            session=session,
            workspace_id=event.workspaceid,
            platform=data.platform,
            group_external_id=data.group_external_id,
            sender_external_id=data.sender_external_id,
            display_name=data.sender_display_name,
        )
    return resolved[event.id]


def resolve_sender(
    *,
    session: Session,
    workspace_id: str,
    platform: str,
    group_external_id: str,
    sender_external_id: str,
    display_name: str | None,
) -> tuple[Group, Member] | None:
    """The group a bot reports from and the member behind the sender. An unknown sender in a
    known group is already in the chat, so becomes an active member (no entry threshold);
    an unknown group is None: bots may report groups operators have not registered."""
    group = session.exec(
        select(Group).where(
            Group.workspace_id == workspace_id,
            Group.platform == platform,
            Group.external_id == group_external_id,
        )
    ).one_or_none()
    if group is None:
        return None
    identity = [(platform, sender_external_id)]
    member = find_member_by_identity(
        session=session, community_id=group.community_id, identities=identity
    )
    if member is None:
        member = Member(
            id=new_id("mbr"),
            workspace_id=workspace_id,
            community_id=group.community_id,
            display_name=display_name or sender_external_id,
            invite_code="",
            joined_at=now(),
        )
        community = get_community(
            session=session, workspace_id=workspace_id, community_id=group.community_id
        )
        if (
            add_member(session=session, community=community, member=member, identities=identity)
            is None
        ):
            member = find_member_by_identity(
                session=session, community_id=group.community_id, identities=identity
            )
            assert member is not None
        else:
            announce_admission(session=session, member=member)
    return group, member


def senders_of_all(
    session: Session, batch: Sequence[tuple[CloudEvent, GroupActivity]]
) -> list[tuple[Group, Member] | None]:
    """`sender_of` for a whole batch, in four statements however long it is: the groups, the
    known senders, the unknown ones inserted at once, then their identities. The answers
    are what `sender_of` would give event by event: a sender first seen in the batch becomes
    one member, whom the sender's later messages find.

    A sender whom a concurrent join registered meanwhile makes the insert fail; the consumer
    then splits the batch, and the single-event path resolves that sender as it always has."""
    group_keys = {(e.workspaceid, d.platform, d.group_external_id) for e, d in batch}
    groups: dict[tuple[str, str, str], Group] = {
        (g.workspace_id, str(g.platform), g.external_id): g
        for g in session.exec(
            select(Group).where(
                sa.tuple_(Group.workspace_id, Group.platform, Group.external_id).in_(
                    list(group_keys)
                )
            )
        )
    }
    wanted = {
        (g.community_id, d.platform, d.sender_external_id)
        for e, d in batch
        if (g := groups.get((e.workspaceid, d.platform, d.group_external_id))) is not None
    }
    known: dict[tuple[str, str, str], Member] = {}
    if wanted:
        keys = [{"c": c, "p": p, "x": x} for c, p, x in wanted]
        rows = session.exec(_KNOWN, params={"keys": orjson.dumps(keys).decode()})
        for owner, platform, external_id in rows:
            known[(owner.community_id, str(platform), external_id)] = owner
    # Senders first seen in this batch, by key, in the order they first speak.
    newcomers: dict[tuple[str, str, str], dict[str, object]] = {}
    joined_at = now()
    for event, data in batch:
        group = groups.get((event.workspaceid, data.platform, data.group_external_id))
        if group is None:
            continue
        key = (group.community_id, data.platform, data.sender_external_id)
        if key not in known and key not in newcomers:
            newcomers[key] = {
                "i": new_id("mbr"),
                "w": event.workspaceid,
                "c": group.community_id,
                "n": data.sender_display_name or data.sender_external_id,
                "v": new_invite_code(),
                "j": joined_at,
                "d": new_id("idn"),
                "p": str(Platform(data.platform)),
                "x": data.sender_external_id,
            }
    if newcomers:
        fresh = orjson.dumps(list(newcomers.values())).decode()
        # Loaded as the ORM loads rows (persistent, in the identity map): building table
        # objects one by one cost more than the rest of the batch's fold.
        admitted = {m.id: m for m in session.scalars(_ADMIT_ORM, {"rows": fresh})}
        session.execute(_IDENTIFY, {"rows": fresh})
        for key, row in newcomers.items():
            known[key] = admitted[str(row["i"])]
        emit_all(
            session,
            [
                (
                    admission_event(
                        member=known[key],
                        identities=[PlatformIdentity(platform=key[1], external_id=key[2])],
                    ),
                    known[key],
                )
                for key in newcomers
            ],
        )
    resolved: list[tuple[Group, Member] | None] = []
    for event, data in batch:
        group = groups.get((event.workspaceid, data.platform, data.group_external_id))
        if group is None:
            resolved.append(None)
            continue
        resolved.append(
            (group, known[(group.community_id, data.platform, data.sender_external_id)])
        )
    return resolved


# The keys as one JSON parameter: a tuple IN renders (and psycopg parses) a new text for
# every number of senders, which cost as much as loading them.
_wanted = (
    sa.func.json_to_recordset(sa.cast(sa.bindparam("keys", type_=sa.Text), sa.JSON))
    .table_valued(sa.column("c", sa.Text), sa.column("p", sa.Text), sa.column("x", sa.Text))
    .render_derived(name="k", with_types=True)
)
_KNOWN = (
    select(Member, MemberIdentity.platform, MemberIdentity.external_id)
    .join(MemberIdentity, col(MemberIdentity.member_id) == Member.id)
    .join(
        _wanted,
        sa.and_(
            col(MemberIdentity.community_id) == _wanted.c.c,
            col(MemberIdentity.platform) == _wanted.c.p,
            col(MemberIdentity.external_id) == _wanted.c.x,
        ),
    )
)
_member = Member.__table__  # type: ignore[attr-defined]
# A newcomer is an active member in the `joined` stage (the `Member` defaults), no threshold.
_ADMIT = sa.text(
    "INSERT INTO member (id, workspace_id, community_id, display_name, status, role, stage, "
    "attributes, invite_code, message_count, points, level, joined_at, created_at) "
    f"SELECT i, w, c, n, '{MemberStatus.active.value}', '{Role.member.value}', "
    f"'{Stage.joined.value}', '{{}}', v, 0, 0, 1, j, j "
    "FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(i text, w text, c text, n text, v text, j timestamptz) "
    f"RETURNING {', '.join(c.name for c in _member.columns)}"
).columns(*_member.columns)
_ADMIT_ORM = select(Member).from_statement(_ADMIT)
# No ON CONFLICT: an identity a concurrent join took fails the batch (see `senders_of_all`).
_IDENTIFY = sa.text(
    "INSERT INTO member_identity (id, workspace_id, community_id, member_id, platform, "
    "external_id) SELECT d, w, c, i, p, x FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(d text, w text, c text, i text, p text, x text)"
)
