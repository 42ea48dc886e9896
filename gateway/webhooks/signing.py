"""What a delivery carries: the event as a structured-mode CloudEvent (JSON), and the Standard
Webhooks headers that sign it with the endpoint's secret, or both secrets during a rotation."""

from datetime import datetime
from typing import Any

import orjson

from gateway.signatures import sign
from services.common.cloudevents import CONTENT_TYPE, SPECVERSION, CloudEvent


def structured_body(event: CloudEvent) -> bytes:
    """The event in CloudEvents' structured JSON mode: attributes and `data` in one object."""
    document: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time.isoformat(),
        "datacontenttype": CONTENT_TYPE,
        "workspaceid": event.workspaceid,
    }
    if event.subject is not None:
        document["subject"] = event.subject
    if event.communityid is not None:
        document["communityid"] = event.communityid
    document["data"] = event.data
    return orjson.dumps(document)


def signed_headers(
    *,
    msg_id: str,
    body: bytes,
    timestamp: int,
    secret: str,
    previous_secret: str | None = None,
    previous_expires_at: datetime | None = None,
    now: datetime,
) -> dict[str, str]:
    signatures = [sign(secret, msg_id=msg_id, timestamp=timestamp, body=body)]
    if previous_secret and previous_expires_at and previous_expires_at > now:
        signatures.append(sign(previous_secret, msg_id=msg_id, timestamp=timestamp, body=body))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/cloudevents+json",
        "user-agent": "Qunyun-Webhooks/1",
    }
