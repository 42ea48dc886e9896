"""Daily rollups per group and per community, keyed by the community's local day.

Counters are upserted by the folds (`messages.py`, `membership.py`); every query reads these
rows, never raw events, so an answer over a year of days reads 365 rows per group.
"""

from datetime import date, datetime

from pydantic import BaseModel
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from services.metrics.tables import MetricsTable


class DayCounts(MetricsTable):
    """What both a group's and a community's day count."""

    workspace_id: str
    # Members at the end of the day, as last seen that day; a day nobody joined or left has
    # no row of its own and carries the previous day's total forward.
    members_total: int | None = None
    joined: int = 0
    departed: int = 0  # members who left, were removed or banned, or merged away
    messages: int = 0
    member_messages: int = 0
    operator_messages: int = 0
    negative_messages: int = 0
    replies: int = 0
    speakers: int = 0
    violations: int = 0


class GroupDay(DayCounts, table=True):
    __tablename__ = "group_day"

    group_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    community_id: str = Field(index=True)


class CommunityDay(DayCounts, table=True):
    __tablename__ = "community_day"

    community_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    check_ins: int = 0
    attendances: int = 0
    referred_joins: int = 0  # joins that name who referred them
    invited_group_joins: int = 0  # bot-reported group joins through someone's invitation
    referral_successes: int = 0
    referral_failures: int = 0


class GroupSpeakerDay(MetricsTable, table=True):
    """A member's messages in one group on one day: distinct speakers, top contributors."""

    __tablename__ = "group_speaker_day"

    group_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    speaker: str = Field(primary_key=True)
    community_id: str
    messages: int = 0


class CommunitySpeakerDay(MetricsTable, table=True):
    """A member's messages in a community on one day, all its groups together: DAU, WAU,
    MAU, retention and cohorts read this."""

    __tablename__ = "community_speaker_day"

    community_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    speaker: str = Field(primary_key=True)
    messages: int = 0
    replies: int = 0


class ViolationDay(MetricsTable, table=True):
    """Violations of the community's rules by kind (keyword, link, qr_code, ...) per day."""

    __tablename__ = "violation_day"

    community_id: str = Field(primary_key=True)
    group_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    count: int = 0


# ---- API schemas ----


class DayStats(BaseModel):
    """One local day of a group or community; definitions in docs/metrics.md. A plain
    pydantic model: a year of days is built per request, and SQLModel's are slower to make."""

    day: date = PField(description="The local day, in the community's timezone.")
    members_total: int = PField(default=0, description="Members at the end of the day.")
    joined: int = PField(default=0, description="Members who joined that day.")
    left: int = PField(
        default=0, description="Members who left, were removed, banned or merged away."
    )
    net: int = PField(default=0, description="joined − left.")
    messages: int = PField(default=0, description="All messages, operators' and bots' included.")
    member_messages: int = PField(
        default=0, description="Messages by members (not owners or admins)."
    )
    operator_messages: int = PField(default=0, description="Messages by owners and admins.")
    operator_share: float | None = PField(
        default=None, description="operator_messages / messages; null on a day without messages."
    )
    replies: int = PField(default=0, description="Messages that reply to another message.")
    negative_messages: int = PField(default=0, description="Messages with a complaint keyword.")
    speakers: int = PField(default=0, description="Distinct members who sent at least one message.")
    speaking_rate: float | None = PField(
        default=None, description="speakers / members_total; null when there are no members."
    )
    dau: int = PField(default=0, description="Daily active members: speakers that day.")
    wau: int = PField(
        default=0, description="Distinct speakers in the 7 local days ending that day."
    )
    mau: int = PField(
        default=0, description="Distinct speakers in the 30 local days ending that day."
    )
    stickiness: float | None = PField(default=None, description="dau / mau; null when mau is 0.")
    newcomers: int = PField(
        default=0, description="Members who joined that day (and are known now)."
    )
    newcomers_spoke_7d: int = PField(
        default=0,
        description="Of those, how many spoke on the day they joined or the 6 days after.",
    )
    check_ins: int = PField(
        default=0, description="Daily check-ins (打卡) recorded; community only."
    )
    attendances: int = PField(default=0, description="Activity check-ins (签到); community only.")
    referred_joins: int = PField(default=0, description="Joins naming who referred them.")
    invited_group_joins: int = PField(
        default=0, description="Group joins bots reported as invited by someone."
    )
    referral_successes: int = PField(default=0, description="Referrals credited that day.")
    referral_failures: int = PField(default=0, description="Referrals decided as failed.")
    violations: int = PField(default=0, description="Rule violations recorded.")
    violations_by_kind: dict[str, int] = PField(
        default_factory=dict, description="Violations per kind (a violation may be several)."
    )


class DailyPublic(SQLModel):
    community_id: str
    group_id: str | None
    timezone: str
    days: list[DayStats]


class PointPublic(SQLModel):
    start: date = Field(description="The first local day of the bucket.")
    value: float | int | None


class SeriesPublic(SQLModel):
    community_id: str
    group_id: str | None
    metric: str
    interval: str
    points: list[PointPublic]


class OverviewPublic(SQLModel):
    """The headline numbers of a community today (its local day)."""

    community_id: str
    timezone: str
    members_total: int
    members_joined_7d: int = Field(description="Joins in the 7 local days ending today.")
    groups_total: int
    today: DayStats
    updated_at: datetime
