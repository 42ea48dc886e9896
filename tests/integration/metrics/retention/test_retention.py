"""Cohorts, period retention and the lifecycle funnel on a hand-computed story.

a joins Mon 2 March, b Tue 3 March (cohort of the week of 2 March); c joins Mon 9 March.
a speaks in the weeks of 9 and 16 March, b in the week of 9 March, c in those of 16 and 23.
"""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.contracts import MemberStageChanged
from services.metrics.funnel.service import funnel
from services.metrics.replica.models import Community
from services.metrics.retention.service import cohorts, period_retention
from services.metrics.rollups.series import Interval
from tests.integration.metrics.conftest import Feed, at, event, message


def _story(feed: Feed) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_a", "a", at("2026-03-02T01:00:00"))
    feed.join("mbr_b", "b", at("2026-03-03T01:00:00"))
    feed.join("mbr_c", "c", at("2026-03-09T01:00:00"))
    feed(
        message("a", at("2026-03-10T02:00:00")),
        message("a", at("2026-03-17T02:00:00")),
        message("b", at("2026-03-10T03:00:00")),
        message("c", at("2026-03-16T02:00:00")),
        message("c", at("2026-03-23T02:00:00")),
    )
    for member, from_stage, to_stage, when in (
        ("mbr_a", "joined", "communicating", "2026-03-04T01:00:00"),
        ("mbr_a", "communicating", "active", "2026-03-09T01:00:00"),
        ("mbr_b", "joined", "communicating", "2026-03-05T01:00:00"),
    ):
        feed(
            event(
                MemberStageChanged(
                    member_id=member,
                    community_id="cmt_1",
                    from_stage=from_stage,
                    to_stage=to_stage,
                    reason="first message",
                    actor="system",
                    changed_at=at(when),
                )
            )
        )


def _community(session: Session) -> Community:
    community = session.get(Community, "cmt_1")
    assert community is not None
    return community


def test_cohorts_by_join_week(feed: Feed, engine: Engine) -> None:
    _story(feed)
    with Session(engine) as session:
        found = cohorts(
            session,
            community=_community(session),
            first=date(2026, 3, 1),
            last=date(2026, 3, 15),
            today=date(2026, 4, 1),
        )
    first, second = found
    assert (first.week, first.size) == (date(2026, 3, 2), 2)
    assert first.active[:4] == [2, 1, 0, None]  # the week of 30 March is not over
    assert first.retention[:4] == [1.0, 0.5, 0.0, None]
    assert (second.week, second.size, second.active[:3]) == (date(2026, 3, 9), 1, [1, 1, None])


def test_period_retention_is_the_share_of_last_periods_actives_active_again(
    feed: Feed, engine: Engine
) -> None:
    _story(feed)
    with Session(engine) as session:
        periods = period_retention(
            session,
            community=_community(session),
            interval=Interval.week,
            first=date(2026, 3, 9),
            last=date(2026, 3, 29),
        )
    assert [(p.start.day, p.active, p.retained, p.retention) for p in periods] == [
        (9, 2, 0, None),
        (16, 2, 1, 0.5),
        (23, 1, 1, 0.5),
    ]


def test_the_funnel_counts_entries_conversions_and_time_in_stage(
    feed: Feed, engine: Engine
) -> None:
    _story(feed)
    with Session(engine) as session:
        march = {
            s.stage: s
            for s in funnel(
                session,
                community=_community(session),
                first=date(2026, 3, 1),
                last=date(2026, 3, 31),
            )
        }
        late = {
            s.stage: s
            for s in funnel(
                session,
                community=_community(session),
                first=date(2026, 3, 5),
                last=date(2026, 3, 31),
            )
        }
    joined, talking, active = march["joined"], march["communicating"], march["active"]
    assert (joined.members_now, talking.members_now, active.members_now) == (1, 1, 1)
    assert (joined.entered, joined.advanced, joined.conversion) == (3, 2, 0.6667)
    assert joined.median_days_in_stage == 2.0
    assert (talking.entered, talking.advanced, talking.conversion) == (2, 1, 0.5)
    assert talking.median_days_in_stage == 5.0
    assert (active.entered, active.advanced, active.conversion) == (1, 0, 0.0)
    assert march["paying"].conversion is None
    assert (late["joined"].entered, late["communicating"].entered) == (1, 1)
    assert late["joined"].median_days_in_stage == 2.0
