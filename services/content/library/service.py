"""Content items and their review: draft → in_review → approved → archived.

Editing an approved item keeps the approved text as a revision and sends the item back to
review, so what is published is always something a reviewer approved.
"""

from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, col, select

from services.common.ids import new_id
from services.content import problems
from services.content.library.models import (
    ContentCreate,
    ContentItem,
    ContentRevision,
    ContentStatus,
    ContentUpdate,
    Review,
    ReviewDecision,
)
from services.content.replica.models import Community
from services.content.tables import now


def create_item(
    session: Session,
    *,
    community: Community,
    item_in: ContentCreate,
    actor: str,
    author_member_id: str | None = None,
    submission_id: str | None = None,
    status: ContentStatus = ContentStatus.draft,
) -> ContentItem:
    """A new item, a draft unless it comes out of an accepted submission."""
    item = ContentItem(
        id=new_id("cnt"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        **item_in.model_dump(mode="json", exclude={"author"}),
        author=item_in.author or actor,
        author_member_id=author_member_id,
        submission_id=submission_id,
        status=status,
    )
    if status == ContentStatus.approved:
        item.reviewer, item.reviewed_at = actor, now()
    session.add(item)
    session.flush()
    return item


def get_item(
    session: Session, *, workspace_id: str, item_id: str, for_update: bool = False
) -> ContentItem:
    query = select(ContentItem).where(
        ContentItem.id == item_id, ContentItem.workspace_id == workspace_id
    )
    if for_update:
        query = query.with_for_update()
    item = session.exec(query).one_or_none()
    if item is None:
        raise problems.content_not_found(item_id)
    return item


def list_items(
    *, community: Community, status: ContentStatus | None, kind: str | None, tag: str | None
) -> Select[Any]:
    query = select(ContentItem).where(
        ContentItem.workspace_id == community.workspace_id,
        ContentItem.community_id == community.id,
    )
    if status is not None:
        query = query.where(ContentItem.status == status)
    if kind is not None:
        query = query.where(ContentItem.kind == kind)
    if tag is not None:
        query = query.where(col(ContentItem.tags).contains([tag]))
    return query


def edit_item(session: Session, *, item: ContentItem, update: ContentUpdate, actor: str) -> None:
    """Change an item; the state it had is kept as a revision. An approved item goes back
    to review; an archived one cannot change."""
    if item.status == ContentStatus.archived:
        raise problems.ContentStateConflict(what="content item", state=item.status, action="edited")
    changes = update.model_dump(mode="json", exclude_unset=True)
    if not changes:
        return
    session.add(
        ContentRevision(
            item_id=item.id,
            workspace_id=item.workspace_id,
            revision=item.revision,
            status=item.status,
            kind=item.kind,
            value_dimension=item.value_dimension,
            title=item.title,
            body=item.body,
            media=item.media,
            tags=item.tags,
            reviewer=item.reviewer,
            reviewed_at=item.reviewed_at,
            replaced_by=actor,
        )
    )
    for name, value in changes.items():
        setattr(item, name, value)
    item.revision += 1
    if item.status == ContentStatus.approved:
        item.status = ContentStatus.in_review
        item.reviewer = item.review_comment = item.reviewed_at = None
    item.updated_at = now()
    session.add(item)


def submit_item(session: Session, *, item: ContentItem) -> None:
    """A draft goes to review."""
    if item.status != ContentStatus.draft:
        raise problems.ContentStateConflict(
            what="content item", state=item.status, action="submitted for review"
        )
    item.status = ContentStatus.in_review
    item.updated_at = now()
    session.add(item)


def review_item(session: Session, *, item: ContentItem, review: Review, actor: str) -> None:
    """Approve an item under review, or send it back to its author as a draft."""
    if item.status != ContentStatus.in_review:
        raise problems.ContentStateConflict(
            what="content item", state=item.status, action="reviewed"
        )
    item.status = (
        ContentStatus.approved if review.decision == ReviewDecision.approve else ContentStatus.draft
    )
    item.reviewer, item.review_comment, item.reviewed_at = actor, review.comment, now()
    item.updated_at = now()
    session.add(item)


def archive_item(session: Session, *, item: ContentItem) -> None:
    """Retire an item: it is never scheduled or published again."""
    if item.status == ContentStatus.archived:
        raise problems.ContentStateConflict(
            what="content item", state=item.status, action="archived"
        )
    item.status = ContentStatus.archived
    item.updated_at = now()
    session.add(item)


def revisions_query(*, item: ContentItem) -> Any:
    """The item's earlier states; page them newest first by `revision`."""
    return select(ContentRevision).where(
        ContentRevision.item_id == item.id, ContentRevision.workspace_id == item.workspace_id
    )


def next_in_queue(
    session: Session, *, community_id: str, workspace_id: str, kind: str, used: Select[Any]
) -> ContentItem | None:
    """The oldest approved item of `kind` whose id is not among `used`."""
    return session.exec(
        select(ContentItem)
        .where(
            ContentItem.workspace_id == workspace_id,
            ContentItem.community_id == community_id,
            ContentItem.kind == kind,
            ContentItem.status == ContentStatus.approved,
            col(ContentItem.id).not_in(used),
        )
        .order_by(col(ContentItem.reviewed_at), col(ContentItem.id))
        .limit(1)
    ).first()
