"""One publication and its `publication_due` event, as schedules and playbooks both make
them: the text rendered, the group or member addressed."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.common.contracts import PublicationDue
from services.common.ids import new_id
from services.content.library.models import ContentItem
from services.content.publishing.models import PublicationStatus
from services.content.replica.models import Community, Group

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone a one-to-one message goes to, at one platform identity."""

    member_id: str | None
    platform: str
    external_id: str


def render(text: str, *, community: Community, group: Group | None) -> tuple[str, list[str]]:
    """Fill what the platform knows; leave @-mention placeholders for the bot, and name them."""
    known = {"community_name": community.name, "group_name": group.name if group else ""}
    filled = _PLACEHOLDER.sub(lambda m: known.get(m.group(1), m.group(0)), text)
    mentions = sorted({m for m in _PLACEHOLDER.findall(filled) if m not in known})
    return filled, mentions


def publication(
    *,
    community: Community,
    item: ContentItem,
    occurs_at: datetime,
    now: datetime,
    expiry: timedelta,
    late: bool,
    target_key: str,
    group: Group | None = None,
    recipient: Recipient | None = None,
    schedule_id: str | None = None,
    playbook_run_id: str | None = None,
) -> tuple[dict[str, Any], PublicationDue]:
    """The publication row to insert and the event announcing it (to emit only if the row
    really was inserted)."""
    publication_id = new_id("pub")
    text, mentions = render(item.body, community=community, group=group)
    if group is not None:
        platform, external_id, member_id = group.platform, group.external_id, None
    else:
        assert recipient is not None
        platform, external_id = recipient.platform, recipient.external_id
        member_id = recipient.member_id
    row = {
        "id": publication_id,
        "workspace_id": community.workspace_id,
        "community_id": community.id,
        "schedule_id": schedule_id,
        "playbook_run_id": playbook_run_id,
        "occurs_at": occurs_at,
        "target_key": target_key,
        "group_id": group.id if group else None,
        "member_id": member_id,
        "platform": platform,
        "external_id": external_id,
        "content_item_id": item.id,
        "content_revision": item.revision,
        "text": text,
        "media": item.media,
        "status": PublicationStatus.dispatched,
        "late": late,
        "dispatched_at": now,
    }
    event = PublicationDue(
        publication_id=publication_id,
        schedule_id=schedule_id,
        playbook_run_id=playbook_run_id,
        community_id=community.id,
        occurrence_at=occurs_at,
        target_kind="group" if group else "member",
        group_id=group.id if group else None,
        member_id=member_id,
        platform=platform,
        external_id=external_id,
        content_item_id=item.id,
        content_revision=item.revision,
        content_kind=item.kind,
        title=item.title,
        text=text,
        mentions=mentions,
        media=item.media,
        late=late,
        dispatched_at=now,
        expires_at=now + expiry,
    )
    return row, event
