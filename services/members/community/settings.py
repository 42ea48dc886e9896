"""A community's rules as settings: every number the seeds name is a default here, never a
constant in code. Each sub-domain reads its own section; `defaults_for(purpose)` picks
sensible starting points by why the community exists (DOMAIN.md rule 1)."""

from datetime import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, model_validator

from services.common.http.schemas import RequestModel, patch_of

IntroField = Literal["city", "company", "title", "intro", "reason"]


RoleName = Literal["owner", "admin", "kol", "expert", "member"]


def _intro_fields(*names: IntroField) -> list[IntroField]:
    return list(names)


def _roles(*names: RoleName) -> list[RoleName]:
    return list(names)


class _Section(RequestModel):
    """Settings are written by clients: unknown names and mistyped values are 422s."""


class EntryPolicy(StrEnum):
    open = "open"
    approval = "approval"
    invite_code = "invite_code"
    paid = "paid"
    questionnaire = "questionnaire"


class EntrySettings(_Section):
    policy: EntryPolicy = EntryPolicy.open
    # For `questionnaire`: the questions a newcomer answers; every one needs an answer.
    questions: list[str] = Field(default_factory=list, max_length=50)
    # For `invite_code`: codes that admit anyone, besides every member's own referral code.
    codes: list[str] = Field(default_factory=list, max_length=100)


class OnboardingSettings(_Section):
    required_intro_fields: list[IntroField] = Field(
        default_factory=lambda: _intro_fields("city", "company", "intro", "reason"),
        max_length=5,
    )
    # The current rules version must be acknowledged; met trivially while no rules exist.
    require_rules_acknowledgement: bool = True
    # Who joined longer ago than this and has not finished shows in the chase list.
    chase_after_hours: int = Field(default=24, ge=1, le=24 * 90)


PlatformName = Literal["wechat", "wecom", "qq", "telegram", "discord", "other"]


def _platform_capacities() -> dict[PlatformName, int]:
    return {
        "wechat": 500,
        "wecom": 500,
        "qq": 2000,
        "telegram": 200_000,
        "discord": 250_000,
        "other": 500,
    }


class GroupSettings(_Section):
    # A new group's capacity when the operator names none (DOMAIN.md rule 2).
    default_capacity: dict[PlatformName, int] = Field(default_factory=_platform_capacities)
    # A place given to a newcomer is held this long; a no-show's place is then freed.
    assignment_ttl_hours: int = Field(default=48, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _positive_capacities(self) -> "GroupSettings":
        if any(not 1 <= c <= 1_000_000 for c in self.default_capacity.values()):
            raise ValueError("capacities must be between 1 and 1000000")
        return self


class PointsRules(_Section):
    message: int = Field(default=1, ge=0)
    message_daily_cap: int = Field(default=20, ge=0)
    check_in: int = Field(default=5, ge=0)
    attendance: int = Field(default=20, ge=0)
    accepted_submission: int = Field(default=30, ge=0)
    successful_referral: int = Field(default=50, ge=0)
    # The largest single manual adjustment, either way: a typo should not mint a fortune.
    manual_adjustment_max: int = Field(default=10_000, ge=1, le=10_000_000)


class LevelSettings(_Section):
    thresholds: list[int] = Field(
        default_factory=lambda: [0, 5, 20, 65, 155, 515, 2015, 8015, 33015],
        min_length=1,
        max_length=50,
    )

    @model_validator(mode="after")
    def _ascending_from_zero(self) -> "LevelSettings":
        if self.thresholds[0] != 0 or any(
            b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)
        ):
            raise ValueError("thresholds must start at 0 and strictly increase")
        return self


class LifecycleSettings(_Section):
    # Messages within `favourable_window_days` of joining that make a member favourable. The
    # name predates the window setting (stored settings keep it); 7 days stays the default.
    favourable_messages_in_first_7_days: int = Field(default=10, ge=1)
    favourable_window_days: int = Field(default=7, ge=1, le=90)
    # Active on `active_days` distinct days within the last `active_window_days` → active.
    active_days: int = Field(default=8, ge=1, le=30)
    active_window_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _reachable(self) -> "LifecycleSettings":
        if self.active_days > self.active_window_days:
            raise ValueError("active_days cannot exceed active_window_days")
        return self


class ReferralSettings(_Section):
    # An invitee counts once onboarded and still a member this many days after joining.
    success_after_days: int = Field(default=7, ge=0, le=365)
    # How far up a referral chain is followed before it is cut off.
    chain_max_depth: int = Field(default=20, ge=1, le=100)


class AdWindow(_Section):
    weekday: int = Field(ge=0, le=6, description="0 = Monday, in the community's timezone")
    start: time
    end: time


class StrikeAction(_Section):
    action: Literal["warn", "mute", "remove", "ban"]
    mute_hours: int | None = Field(default=None, ge=1, le=24 * 365)


class ModerationSettings(_Section):
    keywords: list[str] = Field(default_factory=list, max_length=1000)
    block_links: bool = True
    block_qr_codes: bool = True
    block_contact_cards: bool = True
    block_phone_numbers: bool = True
    block_wechat_ids: bool = True
    block_mini_programs: bool = True
    ad_windows: list[AdWindow] = Field(default_factory=list, max_length=28)
    exempt_roles: list[RoleName] = Field(default_factory=lambda: _roles("owner", "admin"))
    ladder: list[StrikeAction] = Field(
        default_factory=lambda: [
            StrikeAction(action="warn"),
            StrikeAction(action="mute", mute_hours=24),
            StrikeAction(action="remove"),
            StrikeAction(action="ban"),
        ],
        min_length=1,
        max_length=10,
    )
    strike_expiry_days: int = Field(default=90, ge=1, le=3650)
    # How much of an offending message a case keeps as evidence.
    excerpt_chars: int = Field(default=200, ge=20, le=2000)

    @model_validator(mode="after")
    def _complete(self) -> "ModerationSettings":
        if any(step.action == "mute" and step.mute_hours is None for step in self.ladder):
            raise ValueError("every mute step of the ladder needs mute_hours")
        if any(w.start == w.end for w in self.ad_windows):
            raise ValueError("an ad window cannot start and end at the same time")
        return self


class InactivitySettings(_Section):
    """Who is removed for not taking part (DOMAIN.md rule 8); see pruning/policy.py."""

    enabled: bool = False
    period: Literal["week", "month"] = "month"
    # Day of month (1–28) for `month`; weekday (0 = Monday) for `week`.
    run_day: int = Field(default=15, ge=0, le=28)
    # `trailing`: the full period just before the run day (15 Oct–14 Nov for a run on
    # 15 Nov); `calendar`: the previous calendar month or Monday–Sunday week.
    window: Literal["trailing", "calendar"] = "trailing"
    # Fewer days with a message than this in the period makes a candidate...
    min_participations: int = Field(default=3, ge=1, le=366)
    # ...unless discussions are held on fixed weekdays (0 = Monday): then only those days
    # count, and missing `max_missed_discussions` of them makes a candidate.
    discussion_weekdays: list[int] = Field(default_factory=list, max_length=7)
    max_missed_discussions: int = Field(default=3, ge=1, le=366)
    exempt_roles: list[RoleName] = Field(
        default_factory=lambda: _roles("owner", "admin", "kol", "expert")
    )
    exempt_joined_within_days: int = Field(default=14, ge=0, le=3650)
    # Scheduled runs only list candidates for an operator to confirm with a real run.
    scheduled_dry_run: bool = False

    @model_validator(mode="after")
    def _run_day_fits_period(self) -> "InactivitySettings":
        if self.period == "month" and not 1 <= self.run_day <= 28:
            raise ValueError("run_day is a day of the month, 1–28, for a monthly period")
        if self.period == "week" and not 0 <= self.run_day <= 6:
            raise ValueError("run_day is a weekday, 0 (Monday)–6, for a weekly period")
        if any(not 0 <= d <= 6 for d in self.discussion_weekdays):
            raise ValueError("discussion_weekdays are weekdays, 0 (Monday)–6")
        return self


class OutreachSettings(_Section):
    # Per operator account, per day in the community's timezone (DOMAIN.md rule 14); an
    # account's own `daily_cap` overrides it.
    daily_friend_request_cap: int = Field(default=20, ge=1, le=500)


class CommunitySettings(_Section):
    entry: EntrySettings = Field(default_factory=EntrySettings)
    onboarding: OnboardingSettings = Field(default_factory=OnboardingSettings)
    groups: GroupSettings = Field(default_factory=GroupSettings)
    points: PointsRules = Field(default_factory=PointsRules)
    levels: LevelSettings = Field(default_factory=LevelSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    referrals: ReferralSettings = Field(default_factory=ReferralSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    inactivity: InactivitySettings = Field(default_factory=InactivitySettings)
    outreach: OutreachSettings = Field(default_factory=OutreachSettings)


def _section_patches() -> dict[type[BaseModel], type[BaseModel]]:
    sections = (field.annotation for field in CommunitySettings.model_fields.values())
    return {s: patch_of(s) for s in sections if isinstance(s, type) and issubclass(s, _Section)}


if TYPE_CHECKING:

    class CommunitySettingsPatch(RequestModel):
        """What mypy sees; the class is made below from CommunitySettings."""

else:
    # Made from the settings, so a new setting is patchable (and documented) the moment it
    # exists. Each section merges member by member; lists and values are replaced.
    CommunitySettingsPatch = patch_of(
        CommunitySettings,
        doc="Settings to change, by section: only the sections and values given change; a "
        "list is replaced whole. Rules across values (levels ascending, `active_days` within "
        "`active_window_days`, a mute step's `mute_hours`) hold for the result.",
        nested=_section_patches(),
    )


# What differs from the plain defaults, by purpose.
_PURPOSE_DEFAULTS: dict[str, dict[str, Any]] = {
    "product_sales": {"entry": {"policy": "open"}, "points": {"successful_referral": 80}},
    "value_added_service": {
        "entry": {"policy": "open"},
        "inactivity": {"enabled": True, "period": "week", "run_day": 0},
    },
    "networking": {
        "entry": {"policy": "approval"},
        "onboarding": {"required_intro_fields": ["city", "company", "title", "intro", "reason"]},
    },
    "interest": {
        "entry": {"policy": "open"},
        "onboarding": {"required_intro_fields": ["city", "intro"]},
    },
    "brand": {"entry": {"policy": "open"}, "points": {"successful_referral": 80}},
    "personal_influence": {
        "entry": {
            "policy": "questionnaire",
            "questions": ["你是怎么认识我的？", "你希望在群里得到什么？"],
        }
    },
    "paid_knowledge": {
        "entry": {"policy": "paid"},
        "inactivity": {"enabled": True},
        "moderation": {"strike_expiry_days": 180},
    },
}


def merge_settings(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`base` with `patch` laid over it, section by section; lists and values are replaced."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def defaults_for(purpose: str) -> CommunitySettings:
    return CommunitySettings.model_validate(
        merge_settings(
            CommunitySettings().model_dump(mode="json"), _PURPOSE_DEFAULTS.get(purpose, {})
        )
    )
