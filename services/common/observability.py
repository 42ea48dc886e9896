"""Prometheus metrics every process exposes, and JSON logs carrying request and event ids."""

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# `_created` series double every counter's series count and no dashboard reads them.
disable_created_metrics()

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
event_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)

HTTP_REQUESTS = Counter(
    "qunyun_http_requests_total", "HTTP requests handled.", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "qunyun_http_request_duration_seconds",
    "Time to handle an HTTP request.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

OUTBOX_BACKLOG = Gauge("qunyun_outbox_backlog", "Outbox rows not yet published.")
OUTBOX_OLDEST_AGE = Gauge(
    "qunyun_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row."
)
OUTBOX_PUBLISHED = Counter("qunyun_outbox_published_total", "Outbox rows published to Kafka.")
OUTBOX_PUBLISH_FAILURES = Counter(
    "qunyun_outbox_publish_failures_total", "Outbox batches the broker did not acknowledge."
)
OUTBOX_PUBLISH_SECONDS = Histogram(
    "qunyun_outbox_publish_seconds", "Time to publish one outbox batch and get every ack."
)

CONSUMER_HANDLED = Counter(
    "qunyun_consumer_events_total",
    "Events taken from Kafka, by outcome (processed, duplicate, ignored, dead_lettered).",
    ["topic", "type", "outcome"],
)
CONSUMER_HANDLER_SECONDS = Histogram(
    "qunyun_consumer_handler_seconds", "Time to handle one event, retries included.", ["type"]
)
CONSUMER_RETRIES = Counter(
    "qunyun_consumer_retries_total", "Handler attempts that failed and were retried.", ["type"]
)
CONSUMER_LAG = Gauge(
    "qunyun_consumer_lag",
    "Records between the committed offset and the log end.",
    ["topic", "partition"],
)


_ROW_DETAIL = re.compile(r"^(DETAIL:\s+).*$", re.M)

# Extra fields never written as given: secrets, keys, and what members wrote.
REDACTED_FIELDS = frozenset(
    {"secret", "api_key", "authorization", "password", "token", "text", "body", "content"}
)


class JsonFormatter(logging.Formatter):
    _standard = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id_var.get():
            entry["request_id"] = rid
        if eid := event_id_var.get():
            entry["event_id"] = eid
        entry.update(
            {
                k: "[redacted]" if k in REDACTED_FIELDS else v
                for k, v in record.__dict__.items()
                if k not in self._standard
            }
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:
        # Postgres quotes the offending row or key ("Failing row contains (...)"): members' data.
        return _ROW_DETAIL.sub(r"\1[row withheld]", super().formatException(ei))


def configure_logging(service: str, level: str = "INFO") -> None:
    """Every line of the process as JSON on stdout, uvicorn's own included."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn gives its loggers plain-text handlers of their own; ours replace them.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # The request middleware measures every request; one access line each adds nothing.
    logging.getLogger("uvicorn.access").disabled = True
    # kafka-python is chatty at INFO about every reconnect; httpx logs every URL it calls,
    # query strings (search terms, names) included.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Statements name members' data; never at INFO, whatever the level asked for.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger(__name__).info("logging configured", extra={"service": service})
