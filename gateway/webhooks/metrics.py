"""The dispatcher's Prometheus series. Labels are outcomes and endpoint states, never an
endpoint's URL or id: those are unbounded and belong in the delivery log."""

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "qunyun_webhook_attempts_total",
    "Delivery attempts, by outcome (delivered, http_error, gone, timeout, connection_error, "
    "blocked).",
    ["outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "qunyun_webhook_attempt_duration_seconds",
    "Time from sending a delivery to the receiver's answer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_LATENCY = Histogram(
    "qunyun_webhook_delivery_latency_seconds",
    "Time from an event's time to its successful delivery, retries included.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000, 86400, 432000),
)
QUEUED = Counter(
    "qunyun_webhook_messages_queued_total", "Messages queued for endpoints from Kafka events."
)
QUEUE_DEPTH = Gauge(
    "qunyun_webhook_queue_depth",
    "Messages waiting for delivery, by the state of their endpoint (healthy, failing).",
    ["endpoint_state"],
)
QUEUE_OLDEST_AGE = Gauge(
    "qunyun_webhook_queue_oldest_age_seconds",
    "Age of the oldest message waiting for delivery, by the state of its endpoint.",
    ["endpoint_state"],
)
ENDPOINTS_DISABLED = Counter(
    "qunyun_webhook_endpoints_disabled_total",
    "Endpoints the dispatcher disabled, by reason (gone, failing).",
    ["reason"],
)
