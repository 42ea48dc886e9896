"""What counts as an ad or abuse in a message, and what the strike ladder does about it.

Pure functions, no database: the moderation handler, the activity handler (a violation
earns no points) and the policy dry run share them, and they are property-tested.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.common import clock
from services.members.community.settings import AdWindow, ModerationSettings, StrikeAction

Kind = Literal[
    "keyword", "link", "qr_code", "contact_card", "mini_program", "phone_number", "wechat_id"
]


Action = Literal["warn", "mute", "remove", "ban"]


@dataclass(frozen=True)
class Match:
    kind: Kind
    match: str  # the text that matched, or the bot's flag


# Chinese mobile numbers: 1[3-9] and nine more digits, with spaces, dashes or dots anywhere
# between digits ("138 1234 5678", "138-1234-5678"), not inside a longer run of digits.
_SEP = r"[\s\-.·]*"


_PHONE = re.compile(
    r"(?<![\d])(?:\+?86" + _SEP + r")?1" + _SEP + r"[3-9](?:" + _SEP + r"\d){9}(?!\d)"
)


# A WeChat id is 6–20 characters, a letter first, then letters, digits, `_` or `-`. Senders
# announce it with 微信/薇信/威信/V信/VX/WX/weixin/加我 and the like, often with a colon.
_WECHAT_CUE = (
    r"(?:微信号?|薇信|威信|徽信|v信|微号|vx|wx|weixin|wechat|加我v?|加v|\+v|\+vx|v\s*[:：])"
)


_WECHAT = re.compile(
    r"(?<![a-z])" + _WECHAT_CUE + r"\s*(?:号|id)?\s*[:：]?\s*([a-z][-_a-z0-9]{5,19})(?![-_a-z0-9])",
    re.IGNORECASE,
)


_TLDS = "com|cn|net|org|io|top|xyz|vip|cc|me|co|shop|info|link|club|site|online|tv|app|ink|fun"


# ASCII URL characters only: after NFKC a Chinese comma is ",", and 中文 ends a link.
_PATH = r"[A-Za-z0-9\-._~:/?#\[\]@!$&*+;=%]*[A-Za-z0-9\-_~/#=&%]"


_URL = re.compile(
    r"(?:https?://|www\.)"
    + _PATH
    + r"|(?<![@a-z0-9.\-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:"
    + _TLDS
    + r")\b"
    + r"(?:/"
    + _PATH
    + r")?",
    re.IGNORECASE,
)


# What bots flag, and the policy switch that blocks it.
_FLAG_KINDS: dict[str, Kind] = {
    "qr_code": "qr_code",
    "contact_card": "contact_card",
    "link": "link",
    "mini_program": "mini_program",
}


def normalize(text: str) -> str:
    """Full-width letters and digits (１３８, ｗｘ) read as their ASCII selves."""
    return unicodedata.normalize("NFKC", text)


def phone_numbers(text: str) -> list[str]:
    return _phone_numbers(normalize(text))


def wechat_ids(text: str) -> list[str]:
    return _wechat_ids(normalize(text))


def links(text: str) -> list[str]:
    return _links(normalize(text))


# The finders on text already normalized: `detect` normalizes a message once, not once each.
def _phone_numbers(normal: str) -> list[str]:
    return [m.group(0).strip() for m in _PHONE.finditer(normal)]


def _wechat_ids(normal: str) -> list[str]:
    return [m.group(1) for m in _WECHAT.finditer(normal)]


def _links(normal: str) -> list[str]:
    return [m.group(0) for m in _URL.finditer(normal)]


_SQUASH = re.compile(r"[\s\-_.·*|/\\]+")


def keywords(text: str, words: Iterable[str]) -> list[str]:
    """Keywords found, case-insensitively. A keyword of latin letters matches whole words
    only ("ad" is not in "bad"); any other keyword matches even with spaces or dots wedged
    between its characters ("代 购", "代.购"), the usual way of slipping past filters."""
    return _keywords(normalize(text), words)


def _keywords(normal: str, words: Iterable[str]) -> list[str]:
    folded = normal.casefold()
    squashed = _SQUASH.sub("", folded)
    found = []
    for word in words:
        needle = normalize(word).casefold().strip()
        if not needle:
            continue
        if re.fullmatch(r"[a-z0-9 ]+", needle):
            hit = re.search(r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])", folded)
        else:
            hit = re.search(re.escape(_SQUASH.sub("", needle)), squashed)
        if hit:
            found.append(word)
    return found


def detect(text: str, flags: Iterable[str], policy: ModerationSettings) -> list[Match]:
    """Everything in a message the policy blocks, whoever sent it and whenever."""
    normal = normalize(text)
    found: list[Match] = [Match("keyword", w) for w in _keywords(normal, policy.keywords)]
    blocked = {
        "link": policy.block_links,
        "qr_code": policy.block_qr_codes,
        "contact_card": policy.block_contact_cards,
        "mini_program": policy.block_mini_programs,
    }
    for flag in dict.fromkeys(flags):
        kind = _FLAG_KINDS.get(flag)
        if kind is not None and blocked[kind]:
            found.append(Match(kind, flag))
    if policy.block_links:
        found += [Match("link", u) for u in _links(normal)]
    if policy.block_phone_numbers:
        found += [Match("phone_number", p) for p in _phone_numbers(normal)]
    if policy.block_wechat_ids:
        found += [Match("wechat_id", w) for w in _wechat_ids(normal)]
    return list(dict.fromkeys(found))


def in_ad_window(at: datetime, windows: Iterable[AdWindow], timezone: str) -> bool:
    """Whether `at` falls in a weekly window when ads are allowed (资源快闪), read on the
    community's clock. A window whose end is not after its start runs past midnight."""
    local = clock.as_utc(at).astimezone(clock.zone(timezone))
    weekday, time_of_day = local.weekday(), local.time().replace(tzinfo=None)
    for window in windows:
        if window.start < window.end:
            if weekday == window.weekday and window.start <= time_of_day < window.end:
                return True
        elif (weekday == window.weekday and time_of_day >= window.start) or (
            weekday == (window.weekday + 1) % 7 and time_of_day < window.end
        ):
            return True
    return False


def violations(
    *,
    text: str,
    flags: Iterable[str],
    policy: ModerationSettings,
    role: str,
    at: datetime,
    timezone: str,
) -> list[Match]:
    """What moderation acts on: nothing from exempt roles or inside an ad window."""
    if role in policy.exempt_roles or in_ad_window(at, policy.ad_windows, timezone):
        return []
    return detect(text, flags, policy)


def excerpt(text: str, matches: list[Match], size: int) -> str:
    """Up to `size` characters of the message, centred on the first match found in it."""
    if len(text) <= size:
        return text
    first = min((i for m in matches if (i := text.find(m.match)) >= 0), default=0)
    start = max(0, min(first - size // 3, len(text) - size))
    return text[start : start + size]


def active_strikes(strikes: Iterable[datetime], *, at: datetime, expiry_days: int) -> int:
    """Strikes (the times of counted, undismissed violations) that still count at `at`:
    not in the future of `at` and younger than the expiry."""
    oldest = at - timedelta(days=expiry_days)
    return sum(1 for s in strikes if oldest < s <= at)


def ladder_step(ladder: list[StrikeAction], prior_strikes: int) -> tuple[int, StrikeAction]:
    """The step for a violation after `prior_strikes` active strikes (0-based), and its
    action. Past the end of the ladder the last step repeats."""
    index = min(max(prior_strikes, 0), len(ladder) - 1)
    return index, ladder[index]


SEVERITY: tuple[Action, ...] = ("warn", "mute", "remove", "ban")


# Which statuses each action can be taken on. "remove" on a removed member and "ban" on a
# banned one change nothing here but still tell the bot to put them out of the group again.
_POSSIBLE: dict[Action, frozenset[str]] = {
    "warn": frozenset({"pending", "active", "muted"}),
    "mute": frozenset({"active", "muted"}),
    "remove": frozenset({"pending", "active", "muted", "removed"}),
    "ban": frozenset({"pending", "active", "muted", "removed", "banned"}),
}


def effective_action(action: Action, status: str) -> Action:
    """The ladder's action, or the mildest harsher one that fits the member's status (a
    pending applicant cannot be muted, so is removed; a banned one can only stay banned)."""
    for candidate in SEVERITY[SEVERITY.index(action) :]:
        if status in _POSSIBLE[candidate]:
            return candidate
    return "ban"
