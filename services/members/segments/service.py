"""Segments (分层分类): saved rule-based selections of members, evaluated in SQL whenever
they are read, so a segment is always current. The rules are in rules.py, their
SQL in sql.py."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.http.problems import Problem, not_found
from services.common.ids import new_id
from services.members import problems
from services.members.community.models import (
    Community,
    IdentityIn,
    Member,
    MemberIdentity,
    MemberPublic,
)
from services.members.groups.models import Group, GroupState
from services.members.segments.models import Segment, SegmentIn, SegmentUpdate
from services.members.segments.rules import SegmentRules
from services.members.tags.models import Tag


def check_references(*, session: Session, community: Community, rules: SegmentRules) -> None:
    """422 naming tag or group ids in the rules that are not the community's."""
    table: type[Tag] | type[Group]
    for field, table, wanted in (
        ("rules.tags", Tag, rules.tags.ids() if rules.tags else set()),
        ("rules.groups", Group, rules.groups.ids() if rules.groups else set()),
    ):
        if not wanted:
            continue
        found = set(
            session.exec(
                select(col(table.id)).where(
                    col(table.id).in_(wanted),
                    table.community_id == community.id,
                    table.workspace_id == community.workspace_id,
                )
            )
        )
        if unknown := sorted(wanted - found):
            raise problems.UnknownReferences(field=field, ids=", ".join(unknown))


def get_segment(
    *, session: Session, community: Community, segment_id: str, for_update: bool = False
) -> Segment:
    """The community's segment, or the 404 problem."""
    query = select(Segment).where(
        Segment.id == segment_id,
        Segment.community_id == community.id,
        Segment.workspace_id == community.workspace_id,
    )
    segment = session.exec(query.with_for_update() if for_update else query).one_or_none()
    if segment is None:
        raise not_found("segment", segment_id)
    return segment


def segments_query(*, community: Community) -> Any:
    """The community's saved segments, for a page at a time."""
    return select(Segment).where(
        Segment.community_id == community.id, Segment.workspace_id == community.workspace_id
    )


def _name_taken(name: str) -> Problem:
    return problems.SegmentExists(name=name)


def create_segment(
    *, session: Session, community: Community, segment_in: SegmentIn, actor: str
) -> Segment:
    """Save rules under a name; 409 if the community has a segment of that name."""
    check_references(session=session, community=community, rules=segment_in.rules)
    at = now()
    segment_id = session.execute(
        insert(Segment.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("seg"),
            workspace_id=community.workspace_id,
            community_id=community.id,
            name=segment_in.name,
            rules=segment_in.rules.as_json(),
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing(constraint="uq_segment_community_name")
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if segment_id is None:
        raise _name_taken(segment_in.name)
    return get_segment(session=session, community=community, segment_id=segment_id)


def update_segment(
    *, session: Session, community: Community, segment_id: str, update: SegmentUpdate
) -> Segment:
    """Rename a segment or replace its rules."""
    segment = get_segment(
        session=session, community=community, segment_id=segment_id, for_update=True
    )
    if update.rules is not None:
        check_references(session=session, community=community, rules=update.rules)
        segment.rules = update.rules.as_json()
    if update.name is not None and update.name != segment.name:
        if session.exec(
            select(Segment.id).where(
                Segment.community_id == community.id, Segment.name == update.name
            )
        ).first():
            raise _name_taken(update.name)
        segment.name = update.name
    segment.updated_at = now()
    session.add(segment)
    session.flush()
    return segment


def delete_segment(*, session: Session, community: Community, segment_id: str) -> None:
    """Delete a segment; 409 while a group made for it (DOMAIN.md rule 12) still exists."""
    segment = get_segment(
        session=session, community=community, segment_id=segment_id, for_update=True
    )
    groups = list(
        session.exec(
            select(Group.id).where(
                Group.community_id == community.id,
                Group.segment_id == segment.id,
                Group.state != GroupState.dissolved,
            )
        )
    )
    if groups:
        raise problems.SegmentInUse(group_ids=groups)
    session.delete(segment)


def segments_using_tag(session: Session, tag: Tag) -> list[str]:
    """Saved segments whose rules name the tag."""
    rules = Segment.__table__.c.rules  # type: ignore[attr-defined]
    mentions = sa.or_(*(rules["tags"][part].has_key(tag.id) for part in ("any", "all", "none")))
    rows = session.exec(
        select(Segment.id).where(Segment.community_id == tag.community_id, mentions)
    )
    return [f"segment {segment_id}" for segment_id in rows]


def members_public(*, session: Session, members: list[Member]) -> list[MemberPublic]:
    """Members with their identities, in one query for the whole page."""
    identities: dict[str, list[IdentityIn]] = {m.id: [] for m in members}
    for identity in session.exec(
        select(MemberIdentity)
        .where(col(MemberIdentity.member_id).in_(list(identities)))
        .order_by(col(MemberIdentity.id))
    ):
        identities[identity.member_id].append(
            IdentityIn(platform=identity.platform, external_id=identity.external_id)
        )
    return [MemberPublic(**m.model_dump(), identities=identities[m.id]) for m in members]
