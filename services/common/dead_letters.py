"""Inspect and replay dead letters: records a consumer gave up on with its dependencies healthy.

    python -m services.common.dead_letters list   --topic qunyun.ingest.messages.v1 --since 2h
    python -m services.common.dead_letters replay --topic qunyun.ingest.messages.v1 \\
        --since 2026-11-30T12:00:00Z [--consumer members] [--event-id evt_...]

`--topic` is the original topic (its `.dlq` is read); `--since` is an RFC 3339 time or an age
(`30m`, `2h`, `7d`). A replay publishes each dead letter back to the topic it came from, as
it was first sent (the `qunyun_dlq_*` headers dropped). Consumers de-duplicate on the event
id, so a replay is as safe as a first delivery: a consumer that had processed the event skips
it, and replaying twice changes nothing the second time. Fix the cause first.
Reads `QUNYUN_KAFKA_BOOTSTRAP_SERVERS` and `QUNYUN_KAFKA_TOPIC_PREFIX` like the services.
"""

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import orjson

from services.common.contracts import dead_letter_topic
from services.common.kafka import IncomingRecord, KafkaPublisher, OutgoingRecord, read_since
from services.common.settings import ServiceSettings

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """An RFC 3339 time (naive means UTC) or an age such as `90m` before now."""
    if match := _AGE.match(value.strip()):
        amount, unit = float(match.group(1)), _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time or an age: {value!r}") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def describe(record: IncomingRecord) -> dict[str, object]:
    """What an operator needs to decide on a dead letter."""
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
    at = (
        datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).isoformat()
        if record.timestamp_ms is not None
        else None
    )
    return {
        "dead_lettered_at": at,
        "event_id": headers.get("ce_id"),
        "type": headers.get("ce_type"),
        "consumer": headers.get("qunyun_dlq_consumer"),
        "attempts": headers.get("qunyun_dlq_attempts"),
        "error": headers.get("qunyun_dlq_error"),
        "origin": orjson.loads(headers.get("qunyun_dlq_origin", "null")),
        "dlq_offset": f"{record.partition}:{record.offset}",
    }


def as_replay(record: IncomingRecord, topic: str) -> OutgoingRecord:
    """The dead letter as it was first sent, bound for `topic`."""
    return OutgoingRecord(
        topic=topic,
        key=(record.key or b"").decode("utf-8", "replace"),
        value=record.value or b"",
        headers=[(k, v) for k, v in record.headers if not k.startswith("qunyun_dlq_")],
    )


def select(
    records: Iterable[IncomingRecord], *, consumer: str | None, event_ids: Sequence[str]
) -> list[IncomingRecord]:
    chosen = []
    for record in records:
        headers = dict(record.headers)
        if consumer and headers.get("qunyun_dlq_consumer", b"").decode() != consumer:
            continue
        if event_ids and headers.get("ce_id", b"").decode() not in event_ids:
            continue
        chosen.append(record)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.dead_letters")
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--topic", required=True, help="the original topic, e.g. qunyun.members.v1")
    parser.add_argument(
        "--since", required=True, type=parse_since, help="RFC 3339 time or age (30m, 2h, 7d)"
    )
    parser.add_argument("--consumer", help="only what this consumer (service) dead-lettered")
    parser.add_argument("--event-id", action="append", default=[], help="only these events")
    parser.add_argument("--bootstrap-servers", help="default: QUNYUN_KAFKA_BOOTSTRAP_SERVERS")
    args = parser.parse_args(argv)

    settings = ServiceSettings()
    servers = args.bootstrap_servers or settings.kafka_bootstrap_servers
    prefix = settings.kafka_topic_prefix
    topic = args.topic if args.topic.startswith(prefix) else prefix + args.topic
    since_ms = int(args.since.timestamp() * 1000)
    records = select(
        read_since(servers, dead_letter_topic(topic), since_ms=since_ms),
        consumer=args.consumer,
        event_ids=args.event_id,
    )
    if args.command == "list":
        for record in records:
            print(orjson.dumps(describe(record)).decode())
        print(f"{len(records)} dead letters on {dead_letter_topic(topic)}", file=sys.stderr)
        return 0
    if records:
        publisher = KafkaPublisher(servers, client_id="qunyun-dead-letters")
        try:
            publisher.publish([as_replay(r, topic) for r in records])
        finally:
            publisher.close()
    print(f"replayed {len(records)} dead letters to {topic}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
