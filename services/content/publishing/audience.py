"""The one synchronous call content makes: who is in a segment right now, asked of the
members service when an occurrence that targets a segment fires.

It calls members' `GET /v1/communities/{community_id}/segments/{segment_id}/members`
(paged with `limit` and `cursor`; answers `{"data": [{"id", "status", "identities":
[{"platform", "external_id"}]}], "next_cursor"}`) with the internal token and the
workspace header, as the gateway would, within a timeout. Any failure is an
`AudienceUnavailable`: the occurrence fails visibly instead of waiting or guessing.
"""

import httpx

from services.common.http.identity import INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.content.publishing.posts import Recipient
from services.content.settings import ContentSettings

PAGE = 200
# A one-to-one campaign beyond this size belongs in a dedicated outreach, not a schedule.
MAX_RECIPIENTS = 10_000


class AudienceUnavailable(Exception):
    """The members service did not say who is in the segment."""


def segment_recipients(
    settings: ContentSettings, *, workspace_id: str, community_id: str, segment_id: str
) -> list[Recipient]:
    """The segment's active members, each at their first platform identity."""
    url = f"{settings.members_url}/v1/communities/{community_id}/segments/{segment_id}/members"
    headers = {INTERNAL_TOKEN_HEADER: settings.internal_token, WORKSPACE_HEADER: workspace_id}
    recipients: list[Recipient] = []
    cursor: str | None = None
    try:
        with httpx.Client(timeout=settings.members_timeout_seconds, headers=headers) as client:
            while True:
                params: dict[str, str | int] = {"limit": PAGE}
                if cursor:
                    params["cursor"] = cursor
                response = client.get(url, params=params)
                if response.status_code != 200:
                    raise AudienceUnavailable(
                        f"members answered {response.status_code} for segment {segment_id}"
                    )
                page = response.json()
                for member in page["data"]:
                    identities = member.get("identities") or []
                    if member.get("status", "active") not in ("active", "muted") or not identities:
                        continue
                    first = identities[0]
                    recipients.append(
                        Recipient(member["id"], first["platform"], first["external_id"])
                    )
                cursor = page.get("next_cursor")
                if not cursor or len(recipients) >= MAX_RECIPIENTS:
                    return recipients[:MAX_RECIPIENTS]
    except httpx.HTTPError as exc:
        raise AudienceUnavailable(f"members did not answer: {exc.__class__.__name__}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise AudienceUnavailable(f"members answered something unreadable: {exc}") from exc
