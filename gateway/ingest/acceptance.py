"""Taking a batch in: who sent it, which items are good, which of those are new, onto Kafka in
one produce, then the answer item by item. The order of the work is the guarantee (see
`publishing`): the claim of the new items commits only after the broker acknowledged them."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session

from gateway.ingest import service
from gateway.ingest.callers import by_api_key, by_signature, signed
from gateway.ingest.metrics import INGEST_BATCHES, INGEST_ITEMS, INGEST_PUBLISH_SECONDS
from gateway.ingest.models import JoinedItem, LeftItem, MessageIn
from gateway.ingest.publishing import SOURCE, Envelope, IngestProducer, event_id
from gateway.ingest.reading import BatchShape
from gateway.ingest.service import Identity
from services.common.contracts import EventData
from services.common.http.problems import Problem
from services.common.outages import OUTAGE_ERRORS


@dataclass(frozen=True)
class Endpoint:
    name: str  # a metrics label
    shape: BatchShape[Any]
    rejected_kind: str  # the `kind` label of an item too malformed to say its own
    # An item's identity (what makes a re-sent one a duplicate) and the event it becomes.
    identity: Callable[[Any], Identity]
    event: Callable[[Any], EventData]


def message_identity(item: MessageIn) -> Identity:
    return Identity(item.platform, "message", item.message_external_id)


def group_event_identity(item: JoinedItem | LeftItem) -> Identity:
    """A join or leave has no id of its own on the chat platforms: it is the same one when the
    same person joins (or leaves) the same group at the same instant."""
    data = item.data
    instant = data.occurred_at.astimezone(UTC).isoformat()
    unambiguous = orjson.dumps([data.group_external_id, data.sender_external_id, instant])
    return Identity(data.platform, item.type, unambiguous.decode())


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
        with Session(engine) as session:
            if auth == "signature":
                ingester = by_signature(session, request=request, body=body, source=SOURCE)
            else:
                ingester = by_api_key(request, source=SOURCE)
            reading = endpoint.shape.read(body)
            now = datetime.now(UTC)
            identities: dict[int, Identity] = {}
            first: dict[Identity, int] = {}  # within the batch, the first of equals counts
            for index, item in reading.valid:
                identities[index] = identity = endpoint.identity(item)
                first.setdefault(identity, index)
            new = service.claim(
                session, workspace_id=ingester.workspace_id, identities=first, now=now
            )
            ids = {identity: event_id(ingester.workspace_id, *identity) for identity in first}
            envelope = Envelope(workspace_id=ingester.workspace_id, source=ingester.source, now=now)
            records = [
                envelope.record(endpoint.event(item), event_id=ids[identities[index]])
                for index, item in reading.valid
                if identities[index] in new and first[identities[index]] == index
            ]
            if records:
                started = time.perf_counter()
                producer.publish(records)
                INGEST_PUBLISH_SECONDS.observe(time.perf_counter() - started)
            session.commit()
    except OUTAGE_ERRORS:  # the broker's (PublishFailed) or the database's: a 503
        INGEST_BATCHES.labels(endpoint.name, auth, "unavailable").inc()
        raise
    except Problem:
        INGEST_BATCHES.labels(endpoint.name, auth, "refused").inc()
        raise
    INGEST_BATCHES.labels(endpoint.name, auth, "accepted").inc()
    return _answer(endpoint, reading.size, reading.rejected, identities, first, new, ids)


def _answer(
    endpoint: Endpoint,
    size: int,
    rejected: dict[int, Any],
    identities: dict[int, Identity],
    first: dict[Identity, int],
    new: set[Identity],
    ids: dict[Identity, str],
) -> bytes:
    results: list[dict[str, Any]] = []
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    kinds: dict[tuple[str, str], int] = {}
    for index in range(size):
        identity = identities.get(index)
        if identity is None:
            status = "rejected"
            results.append(
                {
                    "index": index,
                    "status": status,
                    "errors": [e.model_dump() for e in rejected.get(index, [])],
                }
            )
        else:
            fresh = identity in new and first[identity] == index
            status = "accepted" if fresh else "duplicate"
            results.append({"index": index, "status": status, "event_id": ids[identity]})
        counts[status] += 1
        kind = identity.kind if identity is not None else endpoint.rejected_kind
        kinds[(kind, status)] = kinds.get((kind, status), 0) + 1
    for (kind, status), count in kinds.items():
        INGEST_ITEMS.labels(kind, status).inc(count)
    return orjson.dumps(
        {
            "accepted": counts["accepted"],
            "duplicates": counts["duplicate"],
            "rejected": counts["rejected"],
            "results": results,
        }
    )
