"""The alert conditions on hand-made days (oldest first, today last)."""

from datetime import date, timedelta

from services.metrics.alerts.models import Thresholds
from services.metrics.alerts.rules import (
    Unsaid,
    broadcast_only,
    findings,
    negative_spike,
    publication_failures,
    shrinking,
    silent,
    speakers_drop,
)
from services.metrics.alerts.thresholds import defaults_for
from services.metrics.rollups.models import DayStats

T = Thresholds()


def days(n: int = 35, **every: int) -> list[DayStats]:
    start = date(2026, 3, 1)
    return [DayStats(day=start + timedelta(days=i), **every) for i in range(n)]


def test_a_group_is_silent_after_its_days_without_a_member_message() -> None:
    history = days(member_messages=4)
    for d in history[-3:]:
        d.member_messages = 0
    found = silent(history, T, age_days=30)
    assert found is not None and (found.value, found.threshold) == (3, 3)
    assert found.reason == "no member has spoken for 3 days"
    history[-3].member_messages = 1
    assert silent(history, T, age_days=30) is None
    assert silent(days(), T, age_days=2) is None  # a new group is not silent yet


def test_speakers_drop_compares_the_week_with_the_mean_of_the_four_before() -> None:
    history = days(speakers=2)  # 14 speaker-days a week
    for d in history[-7:]:
        d.speakers = 1  # 7 this week: down 50 %
    found = speakers_drop(history, T)
    assert found is not None and found.value == 50.0
    history[-1].speakers = 2  # 8: down 42.9 %
    assert speakers_drop(history, T) is None
    assert speakers_drop(days(speakers=0), T) is None  # no baseline, no drop


def test_shrinking_is_net_loss_against_the_members_a_week_ago() -> None:
    history = days(members_total=100)
    for d in history[-3:]:
        d.net = -2  # 6 of 100 lost
    found = shrinking(history, T)
    assert found is not None and found.value == 6.0
    assert found.reason == "6 members lost in 7 days (6.0% of 100)"
    history[-1].net = 1  # 3 net lost: 3 %
    assert shrinking(history, T) is None


def test_broadcast_only_counts_days_only_operators_spoke() -> None:
    history = days(operator_messages=1, member_messages=0)
    for d in history[-14:-7]:
        d.member_messages = 1
    found = broadcast_only(history, T)
    assert found is not None and found.reason == "only operators spoke in 7 of the last 14 days"
    history[-1].member_messages = 1
    assert broadcast_only(history, T) is None


def test_a_complaint_spike_needs_the_minimum_and_the_factor() -> None:
    history = days(negative_messages=2)  # a mean of 2 a day: the threshold is 6
    history[-1].negative_messages = 5
    assert negative_spike(history, T) is None
    history[-1].negative_messages = 6
    found = negative_spike(history, T)
    assert found is not None and (found.value, found.threshold) == (6, 6)
    quiet = days()
    quiet[-1].negative_messages = 5  # no history: the minimum of 5 decides
    assert negative_spike(quiet, T) is not None


def test_a_community_is_checked_only_for_what_applies_to_all_its_groups() -> None:
    assert set(findings(days(), T, group=False, age_days=0)) == {
        "shrinking_group",
        "negative_spike",
        "publication_failures",
    }


def test_publications_not_said_open_an_alert_at_the_community_threshold() -> None:
    assert publication_failures(Unsaid(failed=1), T) is None  # default: 2 in 24 hours
    found = publication_failures(Unsaid(failed=1, expired=1), T)
    assert found is not None and (found.value, found.threshold) == (2, 2)
    assert found.reason == (
        "2 publications not said in the last 24 hours "
        "(1 failed, 1 with no result from the bot in time)"
    )
    paid = defaults_for("paid_knowledge")  # one unsaid lesson already matters
    assert publication_failures(Unsaid(expired=1), paid) is not None
    own = Thresholds(publication_failures_min=5, publication_failure_hours=6)
    assert publication_failures(Unsaid(failed=4), own) is None
    community = findings(days(), T, group=False, age_days=0, unsaid=Unsaid(failed=3))
    assert community["publication_failures"] is not None
