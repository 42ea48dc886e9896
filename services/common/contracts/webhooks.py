"""Events about outbound webhook delivery, published by the gateway."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class WebhookEndpointDisabled(EventData):
    """The gateway stopped delivering to an endpoint: it answered 410 Gone, or every attempt
    failed for the configured number of days. Its queued messages are marked failed; an operator
    can re-enable it and redeliver them."""

    type = "io.qunyun.webhook.endpoint_disabled.v1"
    topic = topics.WEBHOOKS

    endpoint_id: str
    url: str
    reason: str  # "gone" (410) or "failing" (failed for too long)
    failing_since: datetime | None
    last_status_code: int | None
    disabled_at: datetime
