"""What bulk ingestion counts; labels are bounded (kinds and outcomes, never ids)."""

from prometheus_client import Counter, Histogram

INGEST_ITEMS = Counter(
    "qunyun_ingest_items_total",
    "Items posted in bulk, by kind (message, group_member_joined, group_member_left, "
    "group_event when too malformed to tell) and outcome (accepted, duplicate, rejected).",
    ["kind", "outcome"],
)
INGEST_BATCHES = Counter(
    "qunyun_ingest_batches_total",
    "Batches posted in bulk, by endpoint (messages, group_events), how the caller proved who "
    "it is (api_key, signature) and outcome (accepted, refused, unavailable).",
    ["endpoint", "auth", "outcome"],
)
INGEST_PUBLISH_SECONDS = Histogram(
    "qunyun_ingest_publish_seconds",
    "Time from producing a batch's records to the broker's acknowledgement of all of them.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
