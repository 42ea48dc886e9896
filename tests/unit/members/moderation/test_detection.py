"""Moderation's pure rules: the detectors, ad windows, and the strike ladder (property tests)."""

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.members.community.settings import AdWindow, ModerationSettings, StrikeAction
from services.members.moderation.detection import (
    SEVERITY,
    Action,
    active_strikes,
    detect,
    effective_action,
    excerpt,
    in_ad_window,
    ladder_step,
    links,
    phone_numbers,
    violations,
    wechat_ids,
)

POLICY = ModerationSettings(keywords=["代购", "SEO", "刷单"])

# ---- detectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("电话13812345678", ["13812345678"]),
        ("打 138 1234 5678 找我", ["138 1234 5678"]),
        ("138-1234-5678", ["138-1234-5678"]),
        ("+86 139.1234.5678", ["+86 139.1234.5678"]),
        ("全角１３８１２３４５６７８", ["13812345678"]),
        ("订单号 21381234567890", []),  # inside a longer number
        ("12812345678", []),  # 12x is not a mobile prefix
        ("1381234567", []),  # ten digits
        ("价格 1,380 元, 2024-05-01", []),
    ],
)
def test_chinese_mobile_numbers_with_separators(text: str, found: list[str]) -> None:
    assert phone_numbers(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("加我微信：abc_12345", ["abc_12345"]),
        ("微信号 Hello-World1", ["Hello-World1"]),
        ("VX:hello123", ["hello123"]),
        ("有事 wx abcdef", ["abcdef"]),
        ("加我 vx abc123456", ["abc123456"]),
        ("V信 hello_world", ["hello_world"]),
        ("薇信：zhangsan88", ["zhangsan88"]),
        ("ｗｘ：ｈｅｌｌｏ１２３", ["hello123"]),
        ("微信搜索公众号", []),
        ("加我 abc", []),  # too short for a WeChat id
        ("index.vx is a file", []),
    ],
)
def test_wechat_ids_after_their_cues(text: str, found: list[str]) -> None:
    assert wechat_ids(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("看这个 https://t.cn/abc?x=1 ", ["https://t.cn/abc?x=1"]),
        ("www.example.com", ["www.example.com"]),
        ("请访问example.cn/x，谢谢", ["example.cn/x"]),
        ("shop.taobao.com 上有", ["shop.taobao.com"]),
        ("版本 1.5，node.js 很好", []),
        ("写信到 a@b.com", []),
    ],
)
def test_links(text: str, found: list[str]) -> None:
    assert links(text) == found


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("专业代购，质优价廉", ["keyword"]),
        ("代 购 便 宜", ["keyword"]),  # spaces wedged in
        ("代.购", ["keyword"]),
        ("best seo tools", ["keyword"]),  # case-insensitive
        ("my SEOs", []),  # latin keywords match whole words
        ("今天聊聊读书", []),
    ],
)
def test_keywords(text: str, kinds: list[str]) -> None:
    assert [m.kind for m in detect(text, [], POLICY)] == kinds


def test_bot_flags_follow_the_policy_switches() -> None:
    flags = ["qr_code", "contact_card", "link", "mini_program", "image", "red_packet"]
    assert [m.kind for m in detect("", flags, POLICY)] == [
        "qr_code",
        "contact_card",
        "link",
        "mini_program",
    ]
    lenient = POLICY.model_copy(update={"block_qr_codes": False, "block_mini_programs": False})
    assert [m.kind for m in detect("", flags, lenient)] == ["contact_card", "link"]
    quiet = POLICY.model_copy(
        update={"block_phone_numbers": False, "block_wechat_ids": False, "block_links": False}
    )
    assert detect("加我微信 abc12345 13812345678 www.a.com", [], quiet) == []


def test_one_thing_found_twice_is_one_match() -> None:
    assert len(detect("代购 代购", ["link", "link"], POLICY)) == 2


def test_excerpt_centres_on_the_match() -> None:
    text = "x" * 500 + "代购" + "y" * 500
    cut = excerpt(text, detect(text, [], POLICY), 100)
    assert len(cut) == 100 and "代购" in cut
    assert excerpt("short", [], 100) == "short"


# ---- ad windows and exemptions -------------------------------------------------------------

FRIDAY_EVENING = AdWindow(weekday=4, start=time(20), end=time(21))
OVERNIGHT = AdWindow(weekday=5, start=time(23), end=time(1))


def _shanghai(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_ad_windows_are_read_on_the_communitys_clock() -> None:
    # Friday 2025-05-09 20:30 in Shanghai is 12:30 UTC the same day.
    assert in_ad_window(_shanghai(2025, 5, 9, 20, 30), [FRIDAY_EVENING], "Asia/Shanghai")
    assert not in_ad_window(_shanghai(2025, 5, 9, 21, 0), [FRIDAY_EVENING], "Asia/Shanghai")
    # 20:30 UTC on that Friday is Saturday 04:30 in Shanghai: not in the window.
    assert not in_ad_window(
        datetime(2025, 5, 9, 20, 30, tzinfo=UTC), [FRIDAY_EVENING], "Asia/Shanghai"
    )
    assert in_ad_window(datetime(2025, 5, 9, 20, 30, tzinfo=UTC), [FRIDAY_EVENING], "UTC")


def test_an_ad_window_can_run_past_midnight() -> None:
    assert in_ad_window(_shanghai(2025, 5, 10, 23, 30), [OVERNIGHT], "Asia/Shanghai")
    assert in_ad_window(_shanghai(2025, 5, 11, 0, 30), [OVERNIGHT], "Asia/Shanghai")
    assert not in_ad_window(_shanghai(2025, 5, 11, 1, 0), [OVERNIGHT], "Asia/Shanghai")
    assert not in_ad_window(_shanghai(2025, 5, 10, 0, 30), [OVERNIGHT], "Asia/Shanghai")


def test_exempt_roles_and_ad_windows_are_not_violations() -> None:
    policy = POLICY.model_copy(update={"ad_windows": [FRIDAY_EVENING]})
    ad = "代购 加我微信 abc12345"
    common = {"text": ad, "flags": [], "policy": policy, "timezone": "Asia/Shanghai"}
    outside = _shanghai(2025, 5, 9, 19, 0)
    assert violations(role="member", at=outside, **common)  # type: ignore[arg-type]
    assert not violations(role="admin", at=outside, **common)  # type: ignore[arg-type]
    assert not violations(
        role="member",
        at=_shanghai(2025, 5, 9, 20, 5),
        **common,  # type: ignore[arg-type]
    )


def test_a_mute_step_needs_its_hours() -> None:
    with pytest.raises(ValueError, match="mute_hours"):
        ModerationSettings(ladder=[StrikeAction(action="mute")])


# ---- the strike ladder (properties) --------------------------------------------------------

actions = st.sampled_from(SEVERITY)
ladders = st.lists(
    st.builds(
        StrikeAction,
        action=actions,
        mute_hours=st.integers(min_value=1, max_value=24 * 30),
    ),
    min_size=1,
    max_size=10,
)
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
ages = st.lists(st.integers(min_value=-30 * 86400, max_value=400 * 86400), max_size=30)


@given(ladders, st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=50))
def test_the_step_is_monotone_in_active_strikes(ladder: list[StrikeAction], a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert ladder_step(ladder, low)[0] <= ladder_step(ladder, high)[0]


@given(ladders, st.integers(min_value=0, max_value=100))
def test_past_the_end_the_last_step_repeats(ladder: list[StrikeAction], extra: int) -> None:
    index, step = ladder_step(ladder, len(ladder) - 1 + extra)
    assert index == len(ladder) - 1 and step == ladder[-1]


@given(ladders, st.integers(min_value=0, max_value=9))
def test_each_strike_below_the_end_climbs_one_step(ladder: list[StrikeAction], n: int) -> None:
    if n < len(ladder):
        assert ladder_step(ladder, n) == (n, ladder[n])


@given(ages, st.integers(min_value=1, max_value=365))
def test_expired_strikes_never_count(seconds_ago: list[int], expiry_days: int) -> None:
    strikes = [NOW - timedelta(seconds=s) for s in seconds_ago]
    live = [s for s in strikes if NOW - timedelta(days=expiry_days) < s <= NOW]
    assert active_strikes(strikes, at=NOW, expiry_days=expiry_days) == len(live)
    expired = [s for s in strikes if s <= NOW - timedelta(days=expiry_days)]
    assert active_strikes(expired, at=NOW, expiry_days=expiry_days) == 0


@given(ages, st.integers(min_value=1, max_value=365), st.integers(min_value=0, max_value=10**7))
def test_strikes_only_fall_away_as_time_passes(
    seconds_ago: list[int], expiry_days: int, later: int
) -> None:
    strikes = [NOW - timedelta(seconds=abs(s)) for s in seconds_ago]  # none in the future
    now_count = active_strikes(strikes, at=NOW, expiry_days=expiry_days)
    later_count = active_strikes(
        strikes, at=NOW + timedelta(seconds=later), expiry_days=expiry_days
    )
    assert later_count <= now_count


@given(actions, st.sampled_from(["pending", "active", "muted", "removed", "banned"]))
def test_the_action_taken_is_never_milder_than_the_ladders(action: Action, status: str) -> None:
    taken = effective_action(action, status)
    assert SEVERITY.index(taken) >= SEVERITY.index(action)


def test_actions_fit_the_members_status() -> None:
    assert effective_action("warn", "active") == "warn"
    assert effective_action("mute", "pending") == "remove"  # an applicant cannot be muted
    assert effective_action("warn", "removed") == "remove"  # put out of the group again
    assert effective_action("mute", "banned") == "ban"
