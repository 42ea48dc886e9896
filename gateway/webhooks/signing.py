"""What a delivery carries: the event as a structured-mode CloudEvent (JSON), and the Standard
Webhooks headers that sign it with the endpoint's secret, or both secrets during a rotation."""

import base64
import functools
import hashlib
import hmac
from datetime import datetime
from typing import Any

import orjson

from gateway.signatures import SECRET_PREFIX
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


@functools.lru_cache(maxsize=4096)
def _hmac_of(secret: str) -> "hmac.HMAC":
    """The secret's key, decoded once and ready to copy: the dispatcher signs with the same
    few secrets thousands of times a second."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    return hmac.new(key, digestmod=hashlib.sha256)


def _signature(secret: str, signed: bytes) -> str:
    mac = _hmac_of(secret).copy()
    mac.update(signed)
    return "v1," + base64.b64encode(mac.digest()).decode()


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
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signatures = [_signature(secret, signed)]
    if previous_secret and previous_expires_at and previous_expires_at > now:
        signatures.append(_signature(previous_secret, signed))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/cloudevents+json",
        "user-agent": "Qunyun-Webhooks/1",
    }
