"""Cohorts by join week and period retention on a hand-computed story (see
`three_members_join_and_speak`)."""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.metrics.retention.service import cohorts, period_retention
from services.metrics.rollups.series import Interval
from tests.integration.metrics.conftest import Feed
from tests.integration.metrics.stories import the_community, three_members_join_and_speak


def test_cohorts_by_join_week(feed: Feed, engine: Engine) -> None:
    three_members_join_and_speak(feed)
    with Session(engine) as session:
        found = cohorts(
            session,
            community=the_community(session),
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
    three_members_join_and_speak(feed)
    with Session(engine) as session:
        periods = period_retention(
            session,
            community=the_community(session),
            interval=Interval.week,
            first=date(2026, 3, 9),
            last=date(2026, 3, 29),
        )
    assert [(p.start.day, p.active, p.retained, p.retention) for p in periods] == [
        (9, 2, 0, None),
        (16, 2, 1, 0.5),
        (23, 1, 1, 0.5),
    ]
