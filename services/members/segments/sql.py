"""Evaluating segment rules in SQL: one WHERE clause over the member table, with EXISTS and
NOT EXISTS over tags and group memberships, always inside one workspace and community.

How it stays fast on a million members (see bench/segments.py for the figures): migration
0201 adds partial indexes that lead with the community, restricted to the statuses segments
select by default, on the columns whose rules are selective (join date, last activity,
level, role, stage); tags are probed through member_tag's (tag_id, member_id) key. Each
query is planned for its own values (`force_custom_plan`): whether "has tag T" or "joined
since D" is selective depends entirely on T and D, and a generic plan would guess."""

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col, func, select

from services.common import clock
from services.common.clock import now
from services.common.http.pagination import PageParams, decode_cursor, encode_cursor
from services.members.community.models import Community, Member
from services.members.groups.models import GroupMembership
from services.members.segments.rules import SegmentRules

# Postgres expects the matches of a LIMIT query to be spread evenly in id order, so it walks
# the id index and stops at the page's end. Members' ids follow their creation, which rules
# such as "joined this month" correlate with: the walk then crosses nearly every member
# before it finds the first match. Up to this many estimated matches the page is instead
# cut from all of them sorted; above it, matches are dense enough for the walk to end early.
SORT_ALL_UP_TO = 50_000


WORK_MEM = "64MB"


def day_start(*, at: datetime, timezone: str, days_ago: int) -> datetime:
    """The start of the local day `days_ago` days before the one `at` falls on."""
    day = clock.local_day(at, timezone) - timedelta(days=days_ago)
    return clock.local_midnight(day, timezone)


_TAG_IDS = Member.__table__.c.tag_ids  # type: ignore[attr-defined]


def _tagged(tag_ids: list[str]) -> ColumnElement[bool]:
    # member.tag_ids mirrors member_tag (tags/service.py keeps it so): a broad segment then
    # reads one table instead of hash-joining hundreds of thousands of tag rows.
    return _TAG_IDS.overlap(sa.cast(tag_ids, ARRAY(sa.Text)))


def _in_group(group_ids: list[str]) -> ColumnElement[bool]:
    return sa.exists().where(
        col(GroupMembership.member_id) == col(Member.id),
        col(GroupMembership.group_id).in_(group_ids),
        col(GroupMembership.left_at).is_(None),
    )


def _last_seen_before(moment: datetime) -> ColumnElement[bool]:
    """No activity since `moment`; a member who never spoke counts from when they joined."""
    seen = func.coalesce(col(Member.last_active_at), col(Member.joined_at), col(Member.created_at))
    return seen < moment


def conditions(
    rules: SegmentRules, *, workspace_id: str, community_id: str, timezone: str, at: datetime
) -> list[ColumnElement[bool]]:
    """The rules as WHERE conditions on `member`, evaluated at `at`."""

    def days_ago(days: int) -> datetime:
        return day_start(at=at, timezone=timezone, days_ago=days)

    where: list[ColumnElement[bool]] = [
        col(Member.workspace_id) == workspace_id,
        col(Member.community_id) == community_id,
        col(Member.status).in_([s.value for s in rules.status]),
    ]
    if tags := rules.tags:
        if tags.any:
            where.append(_tagged(tags.any))
        if tags.all:
            where.append(_TAG_IDS.contains(sa.cast(tags.all, ARRAY(sa.Text))))
        if tags.none:
            where.append(~_tagged(tags.none))
    if groups := rules.groups:
        if groups.any:
            where.append(_in_group(groups.any))
        if groups.none:
            where.append(~_in_group(groups.none))
    if rules.stage:
        where.append(col(Member.stage).in_([s.value for s in rules.stage]))
    if rules.role:
        where.append(col(Member.role).in_([r.value for r in rules.role]))
    for column, bounds in ((Member.level, rules.level), (Member.points, rules.points)):
        if bounds and bounds.min is not None:
            where.append(col(column) >= bounds.min)
        if bounds and bounds.max is not None:
            where.append(col(column) <= bounds.max)
    if joined := rules.joined:
        start = days_ago(joined.within_days) if joined.within_days else joined.from_
        if start:
            where.append(col(Member.joined_at) >= start)
        if joined.to:
            where.append(col(Member.joined_at) < joined.to)
    if active := rules.last_active:
        since = days_ago(active.active_within_days) if active.active_within_days else active.after
        if since:
            where.append(col(Member.last_active_at) >= since)
        until = days_ago(active.inactive_days) if active.inactive_days else active.before
        if until:
            where.append(_last_seen_before(until))
    return where


def _where(
    session: Session, community: Community, rules: SegmentRules, at: datetime | None
) -> list[ColumnElement[bool]]:
    session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
    # A broad tag rule hashes hundreds of thousands of member ids; in the default 4 MB the
    # hash spills to disk in batches.
    session.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    return conditions(
        rules,
        workspace_id=community.workspace_id,
        community_id=community.id,
        timezone=community.timezone,
        at=at or now(),
    )


def count_members(
    *, session: Session, community: Community, rules: SegmentRules, at: datetime | None = None
) -> int:
    """How many members the rules select now (or at `at`)."""
    where = _where(session, community, rules, at)
    return int(session.exec(select(func.count()).select_from(Member).where(*where)).one())


def _estimated_rows(session: Session, query: Any) -> int:
    compiled = query.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = (
        session.connection()
        .exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params)
        .scalar_one()
    )
    return int(plan[0]["Plan"]["Plan Rows"])


def page_query(
    *,
    session: Session,
    community: Community,
    rules: SegmentRules,
    paging: PageParams,
    at: datetime | None = None,
) -> Any:
    """The statement for one page: `paging.limit` + 1 members after the cursor, by id."""
    where = _where(session, community, rules, at)
    if paging.cursor:
        where.append(col(Member.id) > decode_cursor(paging.cursor))
    matches = select(Member.id).where(*where)
    query: Any
    if _estimated_rows(session, matches) <= SORT_ALL_UP_TO:
        # OFFSET 0 fences the subquery off, so it is planned to find every match (through
        # the selective rule's index) rather than to stop early in id order.
        fenced = matches.offset(0).subquery()
        first = select(fenced.c.id).order_by(fenced.c.id).limit(paging.limit + 1).subquery()
        query = select(Member).join(first, col(Member.id) == first.c.id)
    else:
        query = select(Member).where(*where).limit(paging.limit + 1)
    return query.order_by(col(Member.id))


def members_page(
    *,
    session: Session,
    community: Community,
    rules: SegmentRules,
    paging: PageParams,
    at: datetime | None = None,
) -> tuple[list[Member], str | None]:
    """One page of the selected members in id order, and the cursor of the next."""
    query = page_query(session=session, community=community, rules=rules, paging=paging, at=at)
    rows = list(session.exec(query))
    if len(rows) <= paging.limit:
        return rows, None
    return rows[: paging.limit], encode_cursor(rows[paging.limit - 1].id)
