"""Our deliveries verify with the Standard Webhooks reference library, unchanged."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.signatures import new_secret
from gateway.webhooks.signing import signed_headers, structured_body
from services.common.cloudevents import CloudEvent


def _event() -> CloudEvent:
    return CloudEvent(
        type="io.qunyun.member.status_changed.v1",
        source="/qunyun/members",
        workspaceid="ws_1",
        communityid="cmt_1",
        subject="mbr_1",
        data={"member_id": "mbr_1", "to_status": "banned", "note": "广告"},
    )


def test_the_body_is_a_structured_mode_cloudevent() -> None:
    event = _event()
    body = orjson.loads(structured_body(event))
    assert body == {
        "specversion": "1.0",
        "id": event.id,
        "source": "/qunyun/members",
        "type": "io.qunyun.member.status_changed.v1",
        "time": event.time.isoformat(),
        "datacontenttype": "application/json",
        "workspaceid": "ws_1",
        "subject": "mbr_1",
        "communityid": "cmt_1",
        "data": {"member_id": "mbr_1", "to_status": "banned", "note": "广告"},
    }


def test_a_signed_delivery_verifies_with_the_reference_library() -> None:
    # Taken now, not at import: the reference library refuses timestamps over 5 minutes old,
    # and a long test run collects this module long before it runs it.
    now = datetime.now(UTC)
    secret, event = new_secret(), _event()
    body = structured_body(event)
    headers = signed_headers(
        msg_id=event.id, body=body, timestamp=int(now.timestamp()), secret=secret, now=now
    )
    assert Webhook(secret).verify(body, headers)["id"] == event.id
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"banned", b"muted"), headers)


def test_the_previous_secret_signs_too_until_it_expires() -> None:
    now = datetime.now(UTC)
    old, new, event = new_secret(), new_secret(), _event()
    body = structured_body(event)
    during = signed_headers(
        msg_id=event.id,
        body=body,
        timestamp=int(now.timestamp()),
        secret=new,
        previous_secret=old,
        previous_expires_at=now + timedelta(hours=1),
        now=now,
    )
    Webhook(old).verify(body, during)
    Webhook(new).verify(body, during)
    after = signed_headers(
        msg_id=event.id,
        body=body,
        timestamp=int(now.timestamp()),
        secret=new,
        previous_secret=old,
        previous_expires_at=now - timedelta(seconds=1),
        now=now,
    )
    assert len(after["webhook-signature"].split()) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, after)
