"""The lifecycle funnel, its entries, conversions and time in stage, on a hand-computed story
(see `three_members_join_and_speak`)."""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.metrics.funnel.service import funnel
from tests.integration.metrics.conftest import Feed
from tests.integration.metrics.stories import the_community, three_members_join_and_speak


def test_the_funnel_counts_entries_conversions_and_time_in_stage(
    feed: Feed, engine: Engine
) -> None:
    three_members_join_and_speak(feed)
    with Session(engine) as session:
        march = {
            s.stage: s
            for s in funnel(
                session,
                community=the_community(session),
                first=date(2026, 3, 1),
                last=date(2026, 3, 31),
            )
        }
        late = {
            s.stage: s
            for s in funnel(
                session,
                community=the_community(session),
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
