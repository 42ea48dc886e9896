"""Sparklines and the report's Markdown, on hand-computed values."""

from services.metrics.reports.render import markdown_of
from services.metrics.reports.sparkline import sparkline


def test_a_sparkline_scales_values_to_its_box() -> None:
    svg = sparkline([0, 5, 10], title="messages <a day>")
    # x: 3 + i × (140 − 6) / 2; y: 32 − 3 − v / 10 × 26
    assert 'points="3.0,29.0 70.0,16.0 137.0,3.0"' in svg
    assert '<circle cx="137.0" cy="3.0"' in svg
    assert "<title>messages &lt;a day&gt;</title>" in svg
    assert 'points="3.0,29.0"' in sparkline([], title="none")


def test_the_markdown_shows_changes_against_the_week_before() -> None:
    totals = {
        "members_total": 12,
        "joined": 3,
        "left": 1,
        "messages": 40,
        "speakers": 6,
        "speaking_rate": 0.5,
        "newcomers": 3,
        "check_ins": 0,
        "violations": 0,
    }
    previous = totals | {"members_total": 10, "messages": 50, "speaking_rate": 0.4}
    report = {
        "name": "读书会",
        "week_start": "2026-03-02",
        "week_end": "2026-03-08",
        "totals": totals,
        "previous": previous,
        "health": {"score": 64, "band": "watch", "reasons": ["only operators spoke in 3 of 14"]},
        "charts": {k: sparkline([1, 2], title=k) for k in ("members", "speakers", "messages")},
        "alerts": [{"kind": "silent_group", "reason": "no member has spoken for 3 days"}],
        "top_contributors": [{"speaker": "wechat:a", "member_id": "mbr_a", "messages": 9}],
    }
    text = markdown_of(report)
    assert text.startswith("# 读书会 — week of 2026-03-02 to 2026-03-08")
    assert "| Members | 12 | +2 |" in text
    assert "| Messages | 40 | -10 |" in text
    assert "| Speaking rate | 50% | +10 pts |" in text
    assert "- silent_group: no member has spoken for 3 days" in text
    assert "1. mbr_a — 9 messages" in text
