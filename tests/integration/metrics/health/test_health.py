"""The health score on a hand-computed story, and groups ranked by their latest health.

Health, for the 14 days ending Mon 30 March 2026 (today is the 31st), ten members:
- activity trend: members' messages 8 in 14 days (0.571/day) against 28 in the 28 days
  before (1/day): 0.5714, score 0.5714, weight 25;
- speaking rate: a and b spoke of 10 members: 0.2, score 0.2 / 0.33 = 0.6061, weight 20;
- retention: b spoke the week before, nobody of them last week: 0 of 1, score 0, weight 20;
- growth: nobody joined or left in 28 days: 0.0, score 0.5, weight 15;
- content response: no data, its weight 10 drops out;
- operator-only days: 3 of 14, score 1 − 3/14 = 0.7857, weight 10.
Score = 100 × (25×0.5714 + 20×0.6061 + 0 + 15×0.5 + 10×0.7857) / 90 = 46.40 → 46, "watch".
"""

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.http.pagination import PageParams
from services.metrics.health.score import health
from services.metrics.health.service import rank_groups, refresh_scores
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope
from tests.integration.metrics.conftest import Feed, at, message
from tests.integration.metrics.stories import day_at, the_community


def _health_story(feed: Feed) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_op", "op", at("2026-02-01T01:00:00"), role="admin")
    for i in range(9):
        feed.join(f"mbr_{i}", "ab"[i] if i < 2 else f"m{i}", at("2026-02-01T01:00:00"))
    baseline = [date(2026, 2, 17) + timedelta(days=i) for i in range(28)]
    feed(*[message("a", day_at(d)) for d in baseline])
    feed(*[message("a", day_at(date(2026, 3, 24) + timedelta(days=i))) for i in range(7)])
    feed(message("b", day_at(date(2026, 3, 20))))
    feed(*[message("op", day_at(date(2026, 3, d))) for d in (17, 18, 19)])


def test_the_health_score_traces_back_to_counts(feed: Feed, engine: Engine) -> None:
    _health_story(feed)
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        scored = health(session, scope=Scope(community), today=date(2026, 3, 31))
    parts = {c.name: c for c in scored.components}
    assert (scored.day, scored.score, scored.band) == (date(2026, 3, 30), 46, "watch")
    assert parts["activity_trend"].value == 0.5714
    assert parts["activity_trend"].counts == {
        "member_messages_14d": 8,
        "member_messages_previous_28d": 28,
    }
    assert parts["activity_trend"].reason == (
        "members' messages per day are 43% down on the 4 weeks before"
    )
    assert (parts["speaking_rate"].value, parts["speaking_rate"].score) == (0.2, 0.6061)
    assert parts["speaking_rate"].reason == "2 of 10 members spoke in the last 14 days (20%)"
    assert (parts["retention"].value, parts["retention"].contribution) == (0.0, 0.0)
    assert (parts["growth"].score, parts["growth"].contribution) == (0.5, 8.33)
    assert parts["content_response"].score is None
    assert parts["operator_only_days"].reason == "only operators spoke in 3 of the last 14 days"
    assert parts["operator_only_days"].contribution == 8.73
    assert round(sum(c.contribution for c in scored.components)) == 46


def test_groups_are_ranked_by_their_latest_health(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed.group("grp_1")
    feed.group("grp_2")
    for name in "ab":
        feed.join(f"mbr_{name}", name, at("2026-03-01T00:00:00"))
    feed(*[message("a", at(f"2026-03-{d:02d}T02:00:00")) for d in range(10, 31)])
    with Session(engine) as session, session.begin():
        assert refresh_scores(session, at("2026-03-31T04:00:00")) == 3
    with Session(engine) as session:
        ranked, cursor = rank_groups(
            session,
            community=the_community(session),
            worst_first=True,
            paging=PageParams(limit=10, cursor=None),
        )
    assert [g.group_id for g in ranked] == ["grp_2", "grp_1"]
    assert ranked[0].score < ranked[1].score and cursor is None
    assert ranked[0].reasons[0] == "no member spoke in the last 6 weeks"
