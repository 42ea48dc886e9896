"""Who a bot's report is about: the group it comes from and the member behind the sender.

Every handler of bot-reported activity starts here (activity, lifecycle, moderation, group
membership); they run in one transaction, so the first creates an unknown sender and the
others find them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import Session, select

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
from services.members.community.models import Member
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


@dataclass(slots=True, eq=False)
class Sender:
    """A member as the chat fold reads and writes it: a plain row, locked for the batch.
    Building and tracking a table object per sender cost a tenth of the fold's CPU."""

    id: str
    workspace_id: str
    community_id: str
    display_name: str
    status: MemberStatus
    role: Role
    stage: Stage
    joined_at: datetime | None
    message_count: int
    last_active_at: datetime | None
    muted_until: datetime | None
    points: int
    level: int
    referred_by: str | None
    created_at: datetime


def senders_of_all(
    session: Session, batch: Sequence[tuple[CloudEvent, GroupActivity]]
) -> list[tuple[Group, Sender] | None]:
    """`sender_of` for a whole batch, in four statements however long it is: the groups, the
    known senders (read and locked at once, in id order, so two batches never wait on each
    other in a circle: counters, points and the daily cap are read-modify-write), the
    unknown ones inserted at once, then their identities. The answers are what `sender_of`
    would give event by event: a sender first seen in the batch becomes one member, whom the
    sender's later messages find.

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
    known: dict[tuple[str, str, str], Sender] = {}
    if wanted:
        keys = [{"c": c, "p": p, "x": x} for c, p, x in wanted]
        rows: dict[str, Sender] = {}
        for *columns, platform, external_id in session.execute(
            _KNOWN, {"keys": orjson.dumps(keys).decode()}
        ):
            sender = rows.get(columns[0])
            if sender is None:  # one member behind two of the batch's identities: one row
                sender = rows[columns[0]] = _sender(columns)
            known[(sender.community_id, platform, external_id)] = sender
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
        session.execute(_ADMIT, {"rows": fresh})
        session.execute(_IDENTIFY, {"rows": fresh})
        for key, row in newcomers.items():
            # What `_ADMIT` wrote: the `Member` defaults of an active member, no threshold.
            known[key] = Sender(
                id=str(row["i"]),
                workspace_id=str(row["w"]),
                community_id=str(row["c"]),
                display_name=str(row["n"]),
                status=MemberStatus.active,
                role=Role.member,
                stage=Stage.joined,
                joined_at=joined_at,
                message_count=0,
                last_active_at=None,
                muted_until=None,
                points=0,
                level=1,
                referred_by=None,
                created_at=joined_at,
            )
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
    resolved: list[tuple[Group, Sender] | None] = []
    for event, data in batch:
        group = groups.get((event.workspaceid, data.platform, data.group_external_id))
        if group is None:
            resolved.append(None)
            continue
        resolved.append(
            (group, known[(group.community_id, data.platform, data.sender_external_id)])
        )
    return resolved


def _sender(row: Sequence[Any]) -> Sender:
    """A `_KNOWN` row (its identity columns left off) as a `Sender`."""
    return Sender(
        row[0],
        row[1],
        row[2],
        row[3],
        MemberStatus(row[4]),
        Role(row[5]),
        Stage(row[6]),
        *row[7:],
    )


# The keys as one JSON parameter: a tuple IN renders (and psycopg parses) a new text for
# every number of senders, which cost as much as loading them. `ORDER BY … FOR UPDATE`
# locks the rows in the sorted order, and reads them as they are under the lock.
_KNOWN = sa.text(
    "SELECT m.id, m.workspace_id, m.community_id, m.display_name, m.status, m.role, m.stage, "
    "m.joined_at, m.message_count, m.last_active_at, m.muted_until, m.points, m.level, "
    "m.referred_by, m.created_at, i.platform, i.external_id "
    "FROM member m JOIN member_identity i ON i.member_id = m.id "
    "JOIN json_to_recordset(CAST(:keys AS json)) AS k(c text, p text, x text) "
    "ON i.community_id = k.c AND i.platform = k.p AND i.external_id = k.x "
    "ORDER BY m.id FOR UPDATE OF m"
)
# A newcomer is an active member in the `joined` stage (the `Member` defaults), no threshold.
_ADMIT = sa.text(
    "INSERT INTO member (id, workspace_id, community_id, display_name, status, role, stage, "
    "attributes, invite_code, message_count, points, level, joined_at, created_at) "
    f"SELECT i, w, c, n, '{MemberStatus.active.value}', '{Role.member.value}', "
    f"'{Stage.joined.value}', '{{}}', v, 0, 0, 1, j, j "
    "FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(i text, w text, c text, n text, v text, j timestamptz)"
)
# No ON CONFLICT: an identity a concurrent join took fails the batch (see `senders_of_all`).
_IDENTIFY = sa.text(
    "INSERT INTO member_identity (id, workspace_id, community_id, member_id, platform, "
    "external_id) SELECT d, w, c, i, p, x FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(d text, w text, c text, i text, p text, x text)"
)
