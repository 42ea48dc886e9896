"""Events of moderation (防广告 / 群管理): violations and what was done about them. Bots act on
`violation_recorded` through the gateway's webhooks: recall the message, warn, mute or remove."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData
from services.common.contracts.members import PlatformIdentity


class ViolationRecorded(EventData):
    """A message broke the community's rules; `action` is the strike ladder's answer.
    Mute, remove and ban also change the member's status (`member.status_changed`); a warning
    is only this event. `platform`/`group_external_id`/`message_external_id` locate it."""

    type = "io.qunyun.moderation.violation_recorded.v1"
    topic = topics.MEMBERS

    case_id: str
    member_id: str
    community_id: str
    group_id: str
    platform: str
    group_external_id: str
    message_external_id: str
    identities: list[PlatformIdentity]
    kinds: list[str]  # keyword, link, qr_code, contact_card, mini_program, phone_number, ...
    action: str  # warn, mute, remove, ban
    mute_until: datetime | None
    active_strikes: int  # counting this one
    occurred_at: datetime
    recorded_at: datetime


class ModerationCaseDismissed(EventData):
    """An operator dismissed a case: its strike no longer counts. Nothing is undone by itself;
    lifting a mute or a ban is the operator's own move."""

    type = "io.qunyun.moderation.case_dismissed.v1"
    topic = topics.MEMBERS

    case_id: str
    member_id: str
    community_id: str
    actor: str
    reason: str | None
    dismissed_at: datetime
