"""Tags (标签) with categories, the layers of seed 000's privatisation (DOMAIN.md rule 14):
spending, interaction, location, birthday, family, plus the operator's own. Members are
tagged one at a time or in bulk; segments select members by their tags."""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common import outbox
from services.common.clock import now
from services.common.contracts.tags import MemberTagged, MemberUntagged
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import problems, publishing
from services.members.community import service
from services.members.community.models import Community, Member
from services.members.tags.models import (
    BulkTagResult,
    MemberTag,
    Tag,
    TagCategory,
    TagIn,
)
from services.members.vocabulary import MemberStatus

# Other sub-domains say who relies on a tag (segments do), so a tag in use is not deleted
# from under them: each check returns what uses the tag, e.g. ["segment seg_01..."].
TagInUseCheck = Callable[[Session, "Tag"], list[str]]


def get_tag(*, session: Session, community: Community, tag_id: str, lock: str = "") -> Tag:
    """The community's tag, or 404; `lock` is "share" (tagging) or "update" (deleting)."""
    query = select(Tag).where(
        Tag.id == tag_id,
        Tag.community_id == community.id,
        Tag.workspace_id == community.workspace_id,
    )
    if lock:
        query = query.with_for_update(read=lock == "share")
    tag = session.exec(query).one_or_none()
    if tag is None:
        raise not_found("tag", tag_id)
    return tag


def create_tag(*, session: Session, community: Community, tag_in: TagIn) -> Tag:
    """A new tag; 409 if the community has a tag of that name."""
    tag_id = session.execute(
        insert(Tag.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("tag"),
            workspace_id=community.workspace_id,
            community_id=community.id,
            name=tag_in.name,
            category=tag_in.category.value,
            created_at=now(),
        )
        .on_conflict_do_nothing(constraint="uq_tag_community_name")
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if tag_id is None:
        existing = session.exec(
            select(Tag).where(Tag.community_id == community.id, Tag.name == tag_in.name)
        ).one()
        raise problems.TagExists(name=tag_in.name, tag_id=existing.id)
    return get_tag(session=session, community=community, tag_id=tag_id)


def tags_query(*, community: Community, category: TagCategory | None = None) -> Any:
    """The community's tags, of one category if given."""
    query = select(Tag).where(
        Tag.community_id == community.id, Tag.workspace_id == community.workspace_id
    )
    return query.where(Tag.category == category) if category else query


def delete_tag(
    *, session: Session, community: Community, tag_id: str, in_use: Sequence[TagInUseCheck]
) -> None:
    """Delete a tag and take it off everyone; 409 while something `in_use` relies on it."""
    tag = get_tag(session=session, community=community, tag_id=tag_id, lock="update")
    used_by = [user for check in in_use for user in check(session, tag)]
    if used_by:
        raise problems.TagInUse(used_by=used_by)
    untagged = session.execute(
        sa.delete(MemberTag)
        .where(col(MemberTag.tag_id) == tag.id)
        .returning(col(MemberTag.member_id))
    ).scalars()
    refresh_tag_ids(session, member_ids=list(untagged))
    session.delete(tag)


def _members_to_tag(*, session: Session, community: Community, member_ids: list[str]) -> None:
    """422 naming the ids that are not live members of the community; the rest are locked
    against a concurrent merge, which would otherwise leave a tag on a merged-away member."""
    found = set(
        session.execute(
            sa.select(Member.id)  # type: ignore[call-overload]
            .where(
                Member.workspace_id == community.workspace_id,
                Member.community_id == community.id,
                col(Member.id).in_(member_ids),
                Member.status != MemberStatus.merged,
            )
            .with_for_update(key_share=True)
        ).scalars()
    )
    unknown = [m for m in member_ids if m not in found]
    if unknown:
        raise problems.UnknownMembers(member_ids=unknown)


def _announce(session: Session, tag: Tag, member_ids: list[str], *, added: bool) -> None:
    at = now()
    for member_id in member_ids:
        data = (
            MemberTagged(
                member_id=member_id,
                community_id=tag.community_id,
                tag_id=tag.id,
                tag_name=tag.name,
                category=tag.category,
                tagged_at=at,
            )
            if added
            else MemberUntagged(
                member_id=member_id,
                community_id=tag.community_id,
                tag_id=tag.id,
                tag_name=tag.name,
                category=tag.category,
                untagged_at=at,
            )
        )
        outbox.emit(
            session,
            data,
            source=publishing.SOURCE,
            workspace_id=tag.workspace_id,
            community_id=tag.community_id,
            subject=member_id,
        )


def _insert_tags(session: Session, tag: Tag, member_ids: list[str], actor: str) -> list[str]:
    at = now()
    rows = [
        {
            "tag_id": tag.id,
            "member_id": member_id,
            "workspace_id": tag.workspace_id,
            "community_id": tag.community_id,
            "tagged_by": actor,
            "tagged_at": at,
        }
        for member_id in member_ids
    ]
    return list(
        session.execute(
            insert(MemberTag.__table__)  # type: ignore[attr-defined]
            .values(rows)
            .on_conflict_do_nothing()
            .returning(sa.column("member_id"))
        ).scalars()
    )


def tag_members(
    *, session: Session, community: Community, tag_id: str, member_ids: list[str], actor: str
) -> BulkTagResult:
    """Put a tag on members; those who have it already are left alone. All or nothing."""
    tag = get_tag(session=session, community=community, tag_id=tag_id, lock="share")
    _members_to_tag(session=session, community=community, member_ids=member_ids)
    added = _insert_tags(session, tag, member_ids, actor)
    refresh_tag_ids(session, member_ids=added)
    _announce(session, tag, added, added=True)
    return BulkTagResult(tag_id=tag.id, changed=len(added), unchanged=len(member_ids) - len(added))


def untag_members(
    *, session: Session, community: Community, tag_id: str, member_ids: list[str]
) -> BulkTagResult:
    """Take a tag off members; those without it are left alone. All or nothing."""
    tag = get_tag(session=session, community=community, tag_id=tag_id, lock="share")
    _members_to_tag(session=session, community=community, member_ids=member_ids)
    removed = list(
        session.execute(
            sa.delete(MemberTag)
            .where(col(MemberTag.tag_id) == tag.id, col(MemberTag.member_id).in_(member_ids))
            .returning(col(MemberTag.member_id))
        ).scalars()
    )
    refresh_tag_ids(session, member_ids=removed)
    _announce(session, tag, removed, added=False)
    return BulkTagResult(
        tag_id=tag.id, changed=len(removed), unchanged=len(member_ids) - len(removed)
    )


def member_tags_query(*, member: Member) -> Any:
    """The member's tags; page them by (`category`, `name`, `id`)."""
    return (
        select(Tag)
        .join(MemberTag, col(MemberTag.tag_id) == Tag.id)
        .where(MemberTag.member_id == member.id, Tag.workspace_id == member.workspace_id)
    )


def tag_member(
    *,
    session: Session,
    community_id: str,
    workspace_id: str,
    member_id: str,
    tag_name: str,
    category: str = "custom",
    actor: str = "system",
) -> bool:
    """Tag one member by tag name, creating the tag if the community lacks it; idempotent
    (False when the member had the tag). For other sub-domains (campaign rewards, moderation,
    playbooks): the tag keeps its first category; `actor` is recorded as who tagged."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    name = TagIn(name=tag_name, category=TagCategory(category)).name
    session.execute(
        insert(Tag.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("tag"),
            workspace_id=workspace_id,
            community_id=community_id,
            name=name,
            category=category,
            created_at=now(),
        )
        .on_conflict_do_nothing(constraint="uq_tag_community_name")
    )
    tag = session.exec(
        select(Tag)
        .where(Tag.community_id == community_id, Tag.name == name)
        .with_for_update(read=True)
    ).one()
    _members_to_tag(session=session, community=community, member_ids=[member_id])
    added = _insert_tags(session, tag, [member_id], actor)
    refresh_tag_ids(session, member_ids=added)
    _announce(session, tag, added, added=True)
    return bool(added)


def move_tags(session: Session, *, survivor: Member, merged: Member) -> None:
    """The survivor keeps every tag either record had, once."""
    session.execute(
        sa.text(
            "INSERT INTO member_tag"
            " (tag_id, member_id, workspace_id, community_id, tagged_by, tagged_at)"
            " SELECT tag_id, :survivor, workspace_id, community_id, tagged_by, tagged_at"
            " FROM member_tag WHERE member_id = :merged"
            " ON CONFLICT DO NOTHING"
        ),
        {"survivor": survivor.id, "merged": merged.id},
    )
    session.execute(sa.delete(MemberTag).where(col(MemberTag.member_id) == merged.id))
    refresh_tag_ids(session, member_ids=[survivor.id, merged.id])


def refresh_tag_ids(session: Session, *, member_ids: list[str]) -> None:
    """Copy the members' rows in member_tag onto member.tag_ids, which segments read."""
    if member_ids:
        session.execute(
            sa.text(
                "UPDATE member m SET tag_ids = coalesce((SELECT array_agg(t.tag_id ORDER BY"
                " t.tag_id) FROM member_tag t WHERE t.member_id = m.id), '{}')"
                " WHERE m.id = ANY(:ids)"
            ),
            {"ids": member_ids},
        )
