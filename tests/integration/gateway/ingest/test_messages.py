"""Messages in bulk: on Kafka in order per group, once each, the good kept beside the bad."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session

from gateway.access.service import create_api_key
from gateway.ingest.publishing import IngestProducer
from gateway.ingest.service import REMEMBERED_FOR, prune_seen
from services.common.contracts import ChatMessagePosted
from services.common.periodic import PeriodicJob, run_job_once
from services.common.rdkafka import RdKafkaPublisher
from tests.integration.gateway.ingest.conftest import (
    OTHER_WORKSPACE,
    WORKSPACE,
    Ingest,
    Topic,
    headers,
    message,
    now_ms,
)

pytestmark = pytest.mark.integration


def test_an_accepted_batch_is_on_kafka_in_order_per_group(ingest: Ingest, topic: Topic) -> None:
    since = now_ms()
    groups = [f"g_{uuid.uuid4().hex[:6]}" for _ in range(5)]
    sent = [message(groups[i % 5], text=f"第{i}条") for i in range(500)]

    response = ingest.messages(sent)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (500, 0, 0)
    assert [r["index"] for r in answer["results"]] == list(range(500))
    records = topic.since(since, expect=500)
    assert len(records) == 500
    by_key = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert r.key is not None
        by_key[r.key.decode()].append(ChatMessagePosted.model_validate_json(r.value or b""))
    for group in groups:
        texts = [m.text for m in by_key[f"wechat:{group}"]]
        assert texts == [m["text"] for m in sent if m["group_external_id"] == group]
    first = next(r for r in records if headers(r)["ce_id"] == answer["results"][0]["event_id"])
    assert headers(first) | {"ce_time": ""} == {
        "ce_id": answer["results"][0]["event_id"],
        "ce_source": headers(first)["ce_source"],
        "ce_type": "io.qunyun.ingest.message_posted.v1",
        "ce_specversion": "1.0",
        "ce_time": "",
        "ce_subject": sent[0]["group_external_id"],
        "ce_workspaceid": WORKSPACE,
        "content-type": "application/json",
    }
    assert headers(first)["ce_source"].startswith("/qunyun/gateway/ingest/keys/")
    assert orjson.loads(first.value or b"")["message_external_id"] == sent[0]["message_external_id"]


def test_duplicates_within_and_across_batches_are_answered_and_sent_once(
    ingest: Ingest, topic: Topic, other_key: str
) -> None:
    since = now_ms()
    a, b, c = message(), message(), message()

    first = ingest.messages([a, b, a | {"text": "再发一次"}])
    second = ingest.messages([b, c])
    elsewhere = ingest.messages([a], key=other_key)  # another workspace: its own memory

    assert [r["status"] for r in first.json()["results"]] == ["accepted", "accepted", "duplicate"]
    assert first.json()["duplicates"] == 1
    assert [r["status"] for r in second.json()["results"]] == ["duplicate", "accepted"]
    assert first.json()["results"][2]["event_id"] == first.json()["results"][0]["event_id"]
    assert second.json()["results"][0]["event_id"] == first.json()["results"][1]["event_id"]
    assert elsewhere.json()["results"][0]["status"] == "accepted"
    records = topic.since(since, expect=4)
    ids = sorted(
        (headers(r)["ce_workspaceid"], orjson.loads(r.value or b"")["message_external_id"])
        for r in records
    )
    assert ids == sorted(
        [
            (WORKSPACE, a["message_external_id"]),
            (WORKSPACE, b["message_external_id"]),
            (WORKSPACE, c["message_external_id"]),
            (OTHER_WORKSPACE, a["message_external_id"]),
        ]
    )
    a_record = next(
        r
        for r in records
        if headers(r)["ce_workspaceid"] == WORKSPACE
        and orjson.loads(r.value or b"")["message_external_id"] == a["message_external_id"]
    )
    assert orjson.loads(a_record.value or b"")["text"] == a["text"]  # the first of the two


def test_valid_items_are_kept_when_others_are_rejected_with_their_reasons(
    ingest: Ingest, topic: Topic
) -> None:
    since = now_ms()
    good = [message(), message(), message()]
    naive = message(occurred_at="2026-11-30T10:00:00")
    unknown_field = message(colour="red")
    nul = message(text="a\x00b")
    no_id = message()
    del no_id["message_external_id"]
    too_long = message(text="长" * 20_001)

    response = ingest.messages(
        [good[0], naive, unknown_field, good[1], nul, no_id, too_long, good[2]]
    )

    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (3, 5)
    results = answer["results"]
    assert [r["status"] for r in results] == [
        "accepted", "rejected", "rejected", "accepted", "rejected", "rejected", "rejected",
        "accepted",
    ]  # fmt: skip
    reasons = {
        r["index"]: [(e["field"], e["code"]) for e in r["errors"]]
        for r in results
        if r["status"] == "rejected"
    }
    assert reasons == {
        1: [("messages.1.occurred_at", "timezone_aware")],
        2: [("messages.2.colour", "extra_forbidden")],
        4: [("messages.4.text", "null_character")],
        5: [("messages.5.message_external_id", "missing")],
        6: [("messages.6.text", "string_too_long")],
    }
    assert all(e["message"] for r in results if r["status"] == "rejected" for e in r["errors"])
    on_kafka = [
        orjson.loads(r.value or b"")["message_external_id"]
        for r in sorted(topic.since(since, expect=3), key=lambda r: r.offset)
    ]
    assert sorted(on_kafka) == sorted(m["message_external_id"] for m in good)


def test_a_nul_character_alone_rejects_only_its_item(ingest: Ingest) -> None:
    # The fast path: the batch is otherwise valid, so only the NUL check finds it.
    response = ingest.messages([message(), message(sender_display_name="x\x00")])

    assert [r["status"] for r in response.json()["results"]] == ["accepted", "rejected"]
    assert response.json()["results"][1]["errors"][0]["field"] == "messages.1.sender_display_name"


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"messages": []}, 422, "validation-error"),
        ({"messages": "many"}, 422, "validation-error"),
        ({"message": [{}]}, 422, "validation-error"),
        (b"not json", 422, "validation-error"),
        ({"messages": [{"platform": "wechat"}] * 1001}, 413, "batch-too-large"),
    ],
)
def test_a_malformed_or_oversized_batch_is_a_problem(
    ingest: Ingest, body: object, status: int, problem: str
) -> None:
    response = ingest.post("/v1/ingest/messages", body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(problem)


def test_a_thousand_messages_are_one_batch_and_a_body_over_the_limit_is_a_413(
    ingest: Ingest,
) -> None:
    small = [message(text="", sender_display_name=None) for _ in range(1000)]
    assert ingest.messages(small).json()["accepted"] == 1000

    response = ingest.messages([message(text="长" * 19_000) for _ in range(8)])

    assert response.status_code == 413
    assert response.json()["type"].endswith("payload-too-large")


def test_without_a_valid_key_or_signature_nothing_is_read(ingest: Ingest) -> None:
    anonymous = ingest.client.post("/v1/ingest/messages", json={"messages": [message()]})
    wrong = ingest.messages([message()], key="qy_not-a-key")

    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json()["type"].endswith("invalid-api-key")


def test_a_key_without_ingest_write_is_refused_before_anything_is_read(
    ingest: Ingest, engine: Engine, topic: Topic
) -> None:
    with Session(engine) as session:
        _, reader = create_api_key(
            session=session, workspace_id="ws_reader", name="reader", scopes=["members:read"]
        )
        session.commit()
    since = now_ms()

    refused = ingest.messages([message()], key=reader)

    assert refused.status_code == 403
    assert refused.json()["type"].endswith("missing-scope")
    assert refused.json()["required_scope"] == "ingest:write"
    assert topic.since(since, expect=0) == []


def test_a_broker_failure_is_a_503_and_remembers_nothing(
    app_client: TestClient, ingest: Ingest, topic: Topic
) -> None:
    state = app_client.app.state  # type: ignore[attr-defined]
    working = state.ingest_producer
    # A real producer pointed at a port where no broker listens.
    state.ingest_producer = IngestProducer(
        lambda: RdKafkaPublisher("127.0.0.1:1", client_id="nowhere", timeout_seconds=1)
    )
    sent = [message(), message()]
    try:
        refused = ingest.messages(sent)
    finally:
        state.ingest_producer.close()
        state.ingest_producer = working
    since = now_ms()

    again = ingest.messages(sent)

    assert refused.status_code == 503, refused.text
    assert "retry-after" in refused.headers
    assert [r["status"] for r in again.json()["results"]] == ["accepted", "accepted"]
    assert len(topic.since(since, expect=2)) == 2


def test_an_item_is_forgotten_after_the_retention_and_accepted_again(
    ingest: Ingest, engine: Engine
) -> None:
    from gateway.app import SPEC

    prune = next(j for j in SPEC.periodic if j.name == "prune-ingest-seen")
    assert isinstance(prune, PeriodicJob)
    sent = message()
    assert ingest.messages([sent]).json()["accepted"] == 1

    run_job_once(engine, prune, now=datetime.now(UTC) + REMEMBERED_FOR - timedelta(minutes=5))
    kept = ingest.messages([sent]).json()["results"][0]["status"]
    run_job_once(engine, prune, now=datetime.now(UTC) + REMEMBERED_FOR + timedelta(minutes=5))
    forgotten = ingest.messages([sent]).json()["results"][0]["status"]

    assert (kept, forgotten) == ("duplicate", "accepted")
    assert timedelta(days=7) <= REMEMBERED_FOR


def test_the_prune_forgets_in_bounded_batches_oldest_first(engine: Engine) -> None:
    """A pass deletes `batch` rows a statement, at most `batches` statements; what is left
    waits for the next pass, and nothing younger than the retention goes."""
    workspace = f"ws_prune_{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    old = [now - REMEMBERED_FOR - timedelta(hours=25 - n) for n in range(25)]
    with Session(engine) as session:
        session.execute(
            sa.text(
                "INSERT INTO ingest_seen (key, workspace_id, seen_at) "
                "SELECT CAST(md5(:ws || n) AS uuid), :ws, t "
                "FROM unnest(CAST(:ns AS int[]), CAST(:ts AS timestamptz[])) AS u(n, t)"
            ),
            {
                "ws": workspace,
                "ns": list(range(28)),
                "ts": [
                    *old,
                    now,
                    now - timedelta(days=7),
                    now - REMEMBERED_FOR + timedelta(hours=1),
                ],
            },
        )
        session.commit()

    def left() -> list[str]:
        with Session(engine) as session:
            rows = session.execute(
                sa.text(
                    "SELECT n FROM generate_series(0, 27) AS n JOIN ingest_seen "
                    "ON key = CAST(md5(:ws || n) AS uuid) ORDER BY n"
                ),
                {"ws": workspace},
            )
            return [f"m{r[0]}" for r in rows]

    passes = []
    for _ in range(3):
        with Session(engine) as session:
            passes.append(prune_seen(session, now, batch=10, batches=2))
            session.commit()
        passes.append(left())

    assert passes == [
        20,
        [f"m{n}" for n in range(20, 28)],  # the oldest twenty went first
        5,
        ["m25", "m26", "m27"],
        0,
        ["m25", "m26", "m27"],
    ]


def _counted(ingest: Ingest) -> dict[tuple[str, ...], float]:
    text = ingest.client.get("/metrics").text
    return {
        (sample.name, *sorted(sample.labels.values())): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("qunyun_ingest_")
        for sample in family.samples
    }


def test_items_and_batches_are_counted_by_outcome(ingest: Ingest) -> None:
    before = _counted(ingest)
    sent = message()

    ingest.messages([sent, sent, message(occurred_at="yesterday")])

    after = _counted(ingest)

    def grew(*key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert grew("qunyun_ingest_items_total", "accepted", "message") == 1
    assert grew("qunyun_ingest_items_total", "duplicate", "message") == 1
    assert grew("qunyun_ingest_items_total", "message", "rejected") == 1
    assert grew("qunyun_ingest_batches_total", "accepted", "api_key", "messages") == 1
    assert grew("qunyun_ingest_publish_seconds_count") == 1
