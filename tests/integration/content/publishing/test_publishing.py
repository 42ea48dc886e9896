"""Publishing: each due occurrence becomes one publication per target, exactly once, whatever
replica runs; results come back from bots through Kafka; missing results expire; after
downtime only what is within the grace period is published (late), the rest is skipped."""

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlmodel import Session, select

from deploy.local.processes import free_port
from services.common.contracts import (
    PublicationResultReported,
)
from services.common.db import make_engine
from services.content.publishing.dispatch import dispatch_due
from services.content.publishing.models import Publication
from tests.integration.content.conftest import ContentApi, eventually, local_time, next_minute


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def _one_off(content: ContentApi, *, groups: int = 2, at: datetime | None = None) -> dict[str, Any]:
    community_id = content.community()
    group_ids = [content.group(community_id) for _ in range(groups)]
    item = content.approved_item(community_id, value_dimension="information")
    return content.schedule(
        community_id,
        name="早报",
        content_item_id=item["id"],
        target={"kind": "groups", "group_ids": group_ids},
        starts_at=local_time(at or next_minute(), "Asia/Shanghai"),
    )


def test_a_due_occurrence_is_published_once_per_group(content: ContentApi) -> None:
    due_at = next_minute()
    schedule = _one_off(content, at=due_at)
    lateness_before = _sample("qunyun_content_publication_lateness_seconds_count")
    dispatched_before = _sample("qunyun_content_publications_total", {"outcome": "dispatched"})

    assert content.dispatch(due_at - timedelta(seconds=1)) == 0  # not due yet
    assert content.dispatch(due_at + timedelta(seconds=3)) == 1
    assert content.dispatch(due_at + timedelta(seconds=4)) == 0  # nothing twice

    publications = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
    assert len(publications) == 2
    assert {p["status"] for p in publications} == {"dispatched"}
    assert {p["text"] for p in publications} == {"今日要闻 读书会"}
    assert content.get(f"/v1/schedules/{schedule['id']}").json()["state"] == "ended"

    due = content.events("io.qunyun.content.publication_due.v1", expect=2)
    assert sorted(e.data["publication_id"] for e in due) == sorted(p["id"] for p in publications)
    assert {e.data["platform"] for e in due} == {"wechat"}
    assert all(e.data["external_id"].startswith("ext-grp_") and not e.data["late"] for e in due)
    assert _sample("qunyun_content_publication_lateness_seconds_count") - lateness_before == 2
    dispatched = _sample("qunyun_content_publications_total", {"outcome": "dispatched"})
    assert dispatched - dispatched_before == 2


def test_two_replicas_racing_dispatch_each_publication_once(content: ContentApi) -> None:
    due_at = next_minute()
    community_id = content.community()
    group_ids = [content.group(community_id) for _ in range(2)]
    item = content.approved_item(community_id)
    for n in range(40):
        content.schedule(
            community_id,
            name=f"s{n}",
            content_item_id=item["id"],
            target={"kind": "groups", "group_ids": group_ids},
            starts_at=local_time(due_at, "Asia/Shanghai"),
        )
    settings = content.settings.model_copy(update={"dispatch_batch": 7})
    engines = [make_engine(settings.database_url, pool_size=1) for _ in range(2)]
    start = threading.Barrier(2)
    handled: list[int] = []

    def replica(engine: Any) -> None:
        # Straight at the dispatcher, without the job lock: the row locks and the unique key
        # alone must keep the replicas apart.
        start.wait()
        while True:
            with Session(engine) as session, session.begin():
                done = dispatch_due(session, due_at + timedelta(seconds=1), settings=settings)
            if done == 0:
                return
            handled.append(done)

    threads = [threading.Thread(target=replica, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for engine in engines:
        engine.dispose()
    assert sum(handled) == 40
    with content.session() as session:
        keys = session.exec(select(Publication.schedule_id, Publication.group_id)).all()
        queued = session.execute(
            sa.text("SELECT count(*) FROM outbox WHERE headers::text LIKE '%publication_due%'")
        ).scalar()
    assert len(keys) == len(set(keys)) == 80
    assert queued == 80


def test_after_downtime_only_the_grace_period_is_published_late(content: ContentApi) -> None:
    community_id = content.community()
    group_id = content.group(community_id)
    item = content.approved_item(community_id)
    first = next_minute()
    schedule = content.schedule(
        community_id,
        name="每小时",
        content_item_id=item["id"],
        target={"kind": "groups", "group_ids": [group_id]},
        starts_at=local_time(first, "Asia/Shanghai"),
        rrule="FREQ=HOURLY",
    )
    # The service was down for five hours and ten minutes; the grace period is two hours.
    back = first + timedelta(hours=5, minutes=10)
    assert content.dispatch(back) == 6
    history = content.get(f"/v1/schedules/{schedule['id']}/history").json()["data"]
    assert [(h["status"], h["reason"], h["late"]) for h in history] == [
        ("dispatched", None, True),  # +5 h, 10 minutes late
        ("dispatched", None, True),  # +4 h, 70 minutes late
        ("skipped", "missed", True),  # +3 h, 130 minutes late: beyond the grace period
        ("skipped", "missed", True),
        ("skipped", "missed", True),
        ("skipped", "missed", True),
    ]
    publications = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
    assert len(publications) == 2 and all(p["late"] for p in publications)
    # Back on time: the next occurrence is an ordinary one.
    assert content.dispatch(first + timedelta(hours=6, seconds=2)) == 1
    latest = content.get(f"/v1/schedules/{schedule['id']}/history").json()["data"][0]
    assert (latest["status"], latest["late"]) == ("dispatched", False)
    skipped = content.events("io.qunyun.content.occurrence_skipped.v1", expect=7)
    assert [e.data["reason"] for e in skipped] == ["missed"] * 4


def test_results_from_bots_are_recorded_once(content: ContentApi) -> None:
    due_at = next_minute()
    schedule = _one_off(content, at=due_at)
    content.dispatch(due_at + timedelta(seconds=1))
    said, unsaid = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]

    def report(publication_id: str, status: str, **extra: Any) -> None:
        data = PublicationResultReported(publication_id=publication_id, status=status, **extra)
        content.publish(data, community_id=None)

    report(said["id"], "published", external_message_id="msg-1")
    report(unsaid["id"], "failed", error="bot was removed from the group")
    report(said["id"], "published", external_message_id="msg-1")  # the bot retried
    report(said["id"], "failed", error="late contradiction")  # a result after a result

    def states() -> dict[str, tuple[str, str | None]]:
        rows = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
        return {p["id"]: (p["status"], p["external_message_id"] or p["error"]) for p in rows}

    assert eventually(lambda: states()[unsaid["id"]][0] == "failed")
    eventually(lambda: False, timeout=2)  # let the two repeated results arrive too
    assert states() == {
        said["id"]: ("published", "msg-1"),
        unsaid["id"]: ("failed", "bot was removed from the group"),
    }
    published = content.events("io.qunyun.content.publication_published.v2", expect=4)
    assert [
        (e.data["external_message_id"], e.data["group_id"], e.data["content_kind"])
        for e in published
    ] == [("msg-1", said["group_id"], "morning_brief")]
    assert published[0].data["value_dimension"] == "information"
    assert content.events("io.qunyun.content.publication_published.v1", expect=4) == []
    failed = content.events("io.qunyun.content.publication_failed.v1", expect=4)
    assert [e.data["publication_id"] for e in failed] == [unsaid["id"]]


def test_publications_without_a_result_expire(content: ContentApi) -> None:
    due_at = next_minute()
    schedule = _one_off(content, groups=1, at=due_at)
    content.dispatch(due_at + timedelta(seconds=1))
    expiry = timedelta(minutes=content.settings.publication_expiry_minutes)
    assert (
        content.run_job("content-expire-publications", due_at + expiry - timedelta(seconds=5)) == 0
    )
    assert (
        content.run_job("content-expire-publications", due_at + expiry + timedelta(seconds=5)) == 1
    )
    (publication,) = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
    assert publication["status"] == "expired"
    expired = content.events("io.qunyun.content.publication_expired.v1", expect=2)
    assert [e.data["publication_id"] for e in expired] == [publication["id"]]


def test_a_queue_uses_each_approved_item_once_and_skips_when_empty(content: ContentApi) -> None:
    community_id = content.community()
    group_id = content.group(community_id)
    first_item = content.approved_item(community_id, title="一")
    second_item = content.approved_item(community_id, title="二")
    content.approved_item(community_id, kind="article", title="不是早报")
    first = next_minute()
    schedule = content.schedule(
        community_id,
        name="早报队列",
        queue={"kind": "morning_brief"},
        target={"kind": "community"},
        starts_at=local_time(first, "Asia/Shanghai"),
        rrule="FREQ=HOURLY;COUNT=3",
    )
    for hour in range(3):
        assert content.dispatch(first + timedelta(hours=hour, seconds=1)) == 1
    history = content.get(f"/v1/schedules/{schedule['id']}/history").json()["data"]
    assert [(h["status"], h["reason"], h["content_item_id"]) for h in reversed(history)] == [
        ("dispatched", None, first_item["id"]),
        ("dispatched", None, second_item["id"]),
        ("skipped", "queue_empty", None),
    ]
    publications = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
    assert {p["group_id"] for p in publications} == {group_id}


class _Members(BaseHTTPRequestHandler):
    """A stand-in for the members service's segment members route."""

    pages: dict[str | None, dict[str, Any]] = {}
    calls: list[str] = []

    def do_GET(self) -> None:
        self.calls.append(self.path)
        cursor = self.path.split("cursor=")[1] if "cursor=" in self.path else None
        body = json.dumps(self.pages[cursor]).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_segment_targets_ask_members_and_fail_visibly_without_it(content: ContentApi) -> None:
    community_id = content.community()
    item = content.approved_item(community_id)
    first = next_minute()
    schedule = content.schedule(
        community_id,
        name="一对一",
        content_item_id=item["id"],
        target={"kind": "segment", "segment_id": "seg_vip"},
        starts_at=local_time(first, "Asia/Shanghai"),
        rrule="FREQ=HOURLY;COUNT=2",
    )

    def member(n: int, status: str = "active") -> dict[str, Any]:
        return {
            "id": f"mem_{n}",
            "status": status,
            "identities": [{"platform": "wecom", "external_id": f"wx-{n}"}],
        }

    _Members.pages = {
        None: {"data": [member(1), member(2, "removed")], "next_cursor": "p2"},
        "p2": {"data": [member(3)], "next_cursor": None},
    }
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Members)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = content.settings.model_copy(update={"members_url": f"http://127.0.0.1:{port}"})
    try:
        with content.session() as session, session.begin():
            dispatch_due(session, first + timedelta(seconds=1), settings=settings)
    finally:
        server.shutdown()
        server.server_close()
    assert _Members.calls[0].startswith(
        f"/v1/communities/{community_id}/segments/seg_vip/members?limit="
    )
    publications = content.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
    assert sorted((p["member_id"], p["external_id"]) for p in publications) == [
        ("mem_1", "wx-1"),
        ("mem_3", "wx-3"),
    ]
    # Members does not answer at the second occurrence: it fails, visibly, and says why.
    assert content.dispatch(first + timedelta(hours=1, seconds=1)) == 1
    latest = content.get(f"/v1/schedules/{schedule['id']}/history").json()["data"][0]
    assert latest["status"] == "failed" and "members did not answer" in latest["reason"]
    failed = content.events("io.qunyun.content.occurrence_failed.v1", expect=3)
    assert len(failed) == 1 and failed[0].data["schedule_id"] == schedule["id"]
