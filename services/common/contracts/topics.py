"""One topic per producing domain."""

MEMBERS = "qunyun.members.v1"
CONTENT = "qunyun.content.v1"
ACTIVITIES = "qunyun.activities.v1"
INGEST_MESSAGES = "qunyun.ingest.messages.v1"
METRICS = "qunyun.metrics.v1"
# The gateway's own events about webhook delivery (an endpoint disabled, ...).
WEBHOOKS = "qunyun.webhooks.v1"

ALL_TOPICS = (MEMBERS, CONTENT, ACTIVITIES, INGEST_MESSAGES, METRICS, WEBHOOKS)


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"
