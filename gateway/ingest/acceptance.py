"""Taking a batch in: who sent it, which items are good, which of those are new, onto Kafka in
one produce, then the answer item by item. The order of the work is the guarantee (see
`publishing`): the claim of the new items commits only after the broker acknowledged them.

Each step works on the whole batch in lists (identities as bytes, positions as ints): at
20,000 messages a second, every object made or call made per item costs a share of the
gateway's ~40 µs a message."""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session

from gateway.ingest import service
from gateway.ingest.callers import Ingester, by_api_key, by_signature, signed
from gateway.ingest.fingerprints import event_ids, seen_key
from gateway.ingest.metrics import INGEST_BATCHES, INGEST_ITEMS, INGEST_PUBLISH_SECONDS
from gateway.ingest.models import JoinedItem, LeftItem
from gateway.ingest.publishing import SOURCE, Envelope, IngestProducer
from gateway.ingest.reading import BatchShape, Reading
from services.common.contracts import EventData
from services.common.http.problems import Problem
from services.common.outages import OUTAGE_ERRORS


@dataclass(frozen=True)
class Endpoint:
    name: str  # a metrics label
    shape: BatchShape[Any]
    rejected_kind: str  # the `kind` label of an item too malformed to say its own
    # Each item's identity in a workspace (what makes a re-sent one a duplicate, see
    # `fingerprints.identity`), its kind (a metrics label), and the event it becomes: its
    # contract and its fields (`Envelope.records`).
    identities: Callable[[str, Sequence[Any]], list[bytes]]
    kind: str | Callable[[Any], str]  # the same for all, or each item's
    event: Callable[[Any], tuple[type[EventData], dict[str, Any]]]


def message_identities(workspace_id: str, items: Sequence[dict[str, Any]]) -> list[bytes]:
    """`fingerprints.identity(workspace_id, platform, "message", message_external_id)` of each
    message (read as `MessageFields`), spelled inline: a call per item costs more than the
    join."""
    return [
        f"{workspace_id}\x1f{m['platform']}\x1fmessage\x1f{m['message_external_id']}".encode()
        for m in items
    ]


def group_event_identities(
    workspace_id: str, items: Sequence[JoinedItem | LeftItem]
) -> list[bytes]:
    """A join or leave has no id of its own on the chat platforms: it is the same one when the
    same person joins (or leaves) the same group at the same instant."""
    identities = []
    for item in items:
        data = item.data
        instant = data.occurred_at.astimezone(UTC).isoformat()
        unambiguous = orjson.dumps([data.group_external_id, data.sender_external_id, instant])
        identities.append(
            f"{workspace_id}\x1f{data.platform}\x1f{item.type}\x1f{unambiguous.decode()}".encode()
        )
    return identities


@dataclass
class Outcome:
    """What became of a batch's good items, by their position in `Reading.valid`."""

    identities: list[bytes]
    event_ids: dict[bytes, str]  # each identity's
    accepted: list[int]  # the positions of the items that went to Kafka

    @property
    def duplicates(self) -> int:
        return len(self.identities) - len(self.accepted)


def take(
    engine: Engine,
    producer: IngestProducer,
    *,
    endpoint: Endpoint,
    request: Request,
    body: bytes,
) -> bytes:
    """The JSON answer to an accepted batch (raises a problem for a refused one, or
    `PublishFailed` — a 503 — when the broker did not take it)."""
    auth = "signature" if signed(request) else "api_key"
    try:
        if auth == "signature":
            # From the verdicts' cache; a session of its own reads the integration on a miss.
            with Session(engine) as session:
                ingester = by_signature(session, request=request, body=body, source=SOURCE)
        else:
            ingester = by_api_key(request, source=SOURCE)
        reading = endpoint.shape.read(body)
        now = datetime.now(UTC)
        items = [item for _, item in reading.valid]
        identities = endpoint.identities(ingester.workspace_id, items)
        # Within the batch the first of equals counts: reversed, the first one is the last to
        # write its position.
        first = dict(zip(reversed(identities), range(len(identities) - 1, -1, -1), strict=True))
        unique = list(first)
        keys = [seen_key(identity) for identity in unique]
        outcome = Outcome(identities, {}, [])
        if keys:  # else every item was rejected: nothing to remember, nothing to send
            # A Core connection, not an ORM session: 1 µs a message less, for one statement.
            with engine.connect() as connection:
                new = service.claim(
                    connection, workspace_id=ingester.workspace_id, keys=keys, now=now
                )
                outcome.event_ids = dict(zip(unique, event_ids(unique), strict=True))
                outcome.accepted = sorted(
                    first[i] for i, key in zip(unique, keys, strict=True) if key in new
                )
                _publish(producer, endpoint, ingester, items, outcome, now=now)
                connection.commit()
    except OUTAGE_ERRORS:  # the broker's (PublishFailed) or the database's: a 503
        INGEST_BATCHES.labels(endpoint.name, auth, "unavailable").inc()
        raise
    except Problem:
        INGEST_BATCHES.labels(endpoint.name, auth, "refused").inc()
        raise
    INGEST_BATCHES.labels(endpoint.name, auth, "accepted").inc()
    _count(endpoint, reading, outcome)
    return _answer(reading, outcome)


def _publish(
    producer: IngestProducer,
    endpoint: Endpoint,
    ingester: Ingester,
    items: list[Any],
    outcome: Outcome,
    *,
    now: datetime,
) -> None:
    if not outcome.accepted:
        return
    envelope = Envelope(workspace_id=ingester.workspace_id, source=ingester.source, now=now)
    records = envelope.records(
        [endpoint.event(items[at]) for at in outcome.accepted],
        [outcome.event_ids[outcome.identities[at]] for at in outcome.accepted],
    )
    started = time.perf_counter()
    producer.publish(records)
    INGEST_PUBLISH_SECONDS.observe(time.perf_counter() - started)


def _answer(reading: Reading[Any], outcome: Outcome) -> bytes:
    accepted = set(outcome.accepted)
    ids = outcome.event_ids
    results: list[dict[str, Any]] = [
        {
            "index": index,
            "status": "accepted" if at in accepted else "duplicate",
            "event_id": ids[identity],
        }
        for at, ((index, _), identity) in enumerate(
            zip(reading.valid, outcome.identities, strict=True)
        )
    ]
    if reading.rejected:
        for index, errors in sorted(reading.rejected.items()):
            results.insert(
                index,
                {
                    "index": index,
                    "status": "rejected",
                    "errors": [e.model_dump() for e in errors],
                },
            )
    return orjson.dumps(
        {
            "accepted": len(accepted),
            "duplicates": outcome.duplicates,
            "rejected": len(reading.rejected),
            "results": results,
        }
    )


def _count(endpoint: Endpoint, reading: Reading[Any], outcome: Outcome) -> None:
    kinds: Counter[tuple[str, str]] = Counter()
    if isinstance(endpoint.kind, str):  # no call per item
        kinds[(endpoint.kind, "accepted")] = len(outcome.accepted)
        kinds[(endpoint.kind, "duplicate")] = outcome.duplicates
    else:
        accepted = set(outcome.accepted)
        kinds.update(
            (endpoint.kind(item), "accepted" if at in accepted else "duplicate")
            for at, (_, item) in enumerate(reading.valid)
        )
    kinds[(endpoint.rejected_kind, "rejected")] += len(reading.rejected)
    for (kind, status), count in kinds.items():
        if count:
            INGEST_ITEMS.labels(kind, status).inc(count)
