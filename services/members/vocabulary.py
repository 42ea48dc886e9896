"""The words every part of members shares: the enumerations of the member record and the sets
of statuses that decide who counts where. Defined once, so "present" means one thing."""

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field


def _distinct(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("each id once (the list's items are unique)")
    return ids


MemberIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]],
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True}),
]
"""Member ids in a request, each once: the schema says `uniqueItems`, so a repeat is a 422."""


class Purpose(StrEnum):
    """Why a community exists (DOMAIN.md rule 1); it picks sensible defaults."""

    product_sales = "product_sales"
    value_added_service = "value_added_service"
    networking = "networking"
    interest = "interest"
    brand = "brand"
    personal_influence = "personal_influence"
    paid_knowledge = "paid_knowledge"


class Platform(StrEnum):
    wechat = "wechat"
    wecom = "wecom"
    qq = "qq"
    telegram = "telegram"
    discord = "discord"
    other = "other"


class MemberStatus(StrEnum):
    pending = "pending"  # awaiting approval (approval or questionnaire entry)
    active = "active"
    muted = "muted"
    removed = "removed"
    banned = "banned"
    merged = "merged"  # merged into another member; `merged_into` points at the survivor


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    kol = "kol"
    expert = "expert"
    member = "member"


class Stage(StrEnum):
    """The member lifecycle, 社群链条 (DOMAIN.md rule 3), in order."""

    aware = "aware"
    joined = "joined"
    communicating = "communicating"
    favourable = "favourable"
    active = "active"
    paying = "paying"
    feedback = "feedback"
    referring = "referring"


# People in the community now: what badges, leaderboards, rules acknowledgements and group
# invitations count. Applicants are not in yet; the removed, banned and merged are gone.
PRESENT = (MemberStatus.active, MemberStatus.muted)

# Present or applying: whose messages earn points and move the lifecycle.
IN_GOOD_STANDING = (MemberStatus.active, MemberStatus.muted, MemberStatus.pending)

# Statuses a member leaves the community by: their held places and referrals are given back.
GONE = (MemberStatus.removed, MemberStatus.banned, MemberStatus.merged)
