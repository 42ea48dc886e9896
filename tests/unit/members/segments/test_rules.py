"""The segment rules model: whatever it accepts survives its stored form unchanged, and
bounds that can never hold are refused, naming the rule."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.members.segments.rules import SegmentRules
from services.members.vocabulary import MemberStatus, Role, Stage

ids = st.lists(st.sampled_from([f"tag_{n}" for n in range(8)]), min_size=1, max_size=4, unique=True)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
counts = st.integers(min_value=0, max_value=10_000)
days = st.integers(min_value=1, max_value=3650)
half_days = st.integers(min_value=1, max_value=1800)


@st.composite
def ranges(draw: st.DrawFn) -> dict[str, int]:
    low, high = sorted(draw(st.lists(counts, min_size=2, max_size=2)))
    keep = draw(st.sampled_from([("min",), ("max",), ("min", "max")]))
    return {k: v for k, v in (("min", low), ("max", high)) if k in keep}


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if draw(st.booleans()):
        required, excluded = draw(ids), draw(ids)
        raw["tags"] = {"all": required, "none": [t for t in excluded if t not in required]}
        if not raw["tags"]["none"]:
            del raw["tags"]["none"]
    for name, enum in (("stage", Stage), ("role", Role)):
        if draw(st.booleans()):
            raw[name] = [
                e.value
                for e in draw(st.lists(st.sampled_from(list(enum)), min_size=1, unique=True))
            ]
    for name in ("level", "points"):
        if draw(st.booleans()):
            raw[name] = draw(ranges())
    if draw(st.booleans()):
        start = draw(moments)
        raw["joined"] = {"from": start, "to": start + timedelta(days=draw(days))}
    if draw(st.booleans()):
        inactive = draw(half_days)
        raw["last_active"] = {
            "inactive_days": inactive,
            "active_within_days": inactive + draw(half_days),
        }
    raw["status"] = [
        s.value
        for s in draw(
            st.lists(
                st.sampled_from([s for s in MemberStatus if s != MemberStatus.merged]),
                min_size=1,
                unique=True,
            )
        )
    ]
    return raw


@given(rules())
def test_accepted_rules_survive_their_stored_form(raw: dict[str, Any]) -> None:
    parsed = SegmentRules.model_validate(raw)
    stored = parsed.as_json()
    assert SegmentRules.model_validate(stored) == parsed
    assert SegmentRules.model_validate(stored).as_json() == stored


@given(st.sampled_from(["level", "points"]), counts, counts)
def test_a_minimum_above_the_maximum_is_refused(name: str, low: int, high: int) -> None:
    if low <= high:
        SegmentRules.model_validate({name: {"min": low, "max": high}})
        return
    with pytest.raises(ValidationError) as caught:
        SegmentRules.model_validate({name: {"min": low, "max": high}})
    assert [e["loc"] for e in caught.value.errors()] == [(name,)]


@given(moments, st.integers(min_value=-3650, max_value=0))
def test_an_empty_time_window_is_refused(start: datetime, length: int) -> None:
    end = (start + timedelta(days=length)).isoformat()
    for name, window in (
        ("joined", {"from": start.isoformat(), "to": end}),
        ("last_active", {"after": start.isoformat(), "before": end}),
    ):
        with pytest.raises(ValidationError) as caught:
            SegmentRules.model_validate({name: window})
        assert caught.value.errors()[0]["loc"] == (name,)


@given(days, days)
def test_active_recently_and_inactive_for_longer_is_refused(active: int, inactive: int) -> None:
    window = {"active_within_days": active, "inactive_days": inactive}
    if active > inactive:
        SegmentRules.model_validate({"last_active": window})
        return
    with pytest.raises(ValidationError):
        SegmentRules.model_validate({"last_active": window})


@given(ids)
def test_a_tag_both_required_and_excluded_is_refused(tags: list[str]) -> None:
    with pytest.raises(ValidationError):
        SegmentRules.model_validate({"tags": {"all": tags, "none": tags[:1]}})
    with pytest.raises(ValidationError):
        SegmentRules.model_validate({"tags": {"any": tags, "none": tags}})


def test_no_rules_select_active_and_muted_members_and_never_merged_ones() -> None:
    assert SegmentRules().as_json() == {"status": ["active", "muted"]}
    with pytest.raises(ValidationError):
        SegmentRules.model_validate({"status": ["active", "merged"]})
