"""The metrics service on the real broker: events put on Kafka reach the read models, and the
query API answers from them, scoped to the caller's workspace."""

import csv
import io
from datetime import UTC, datetime

import sqlalchemy as sa

from services.common.cloudevents import CloudEvent
from services.common.contracts import CommunityCreated, GroupCreated, MemberJoined, PlatformIdentity
from services.common.periodic import run_job_once
from services.metrics.app import JOBS
from tests.integration.metrics.conftest import MetricsApi, at, event, eventually, message

HEALTH_JOB = next(job for job in JOBS if job.name == "metrics-health-scores")


def _setup(metrics: MetricsApi, when: datetime, *chat: CloudEvent) -> None:
    metrics.publish(
        *chat,
        event(
            CommunityCreated(
                community_id="cmt_k",
                name="跑团",
                purpose="interest",
                timezone="Asia/Shanghai",
                created_at=when,
            ),
            community_id="cmt_k",
        ),
        event(
            GroupCreated(
                group_id="grp_k",
                community_id="cmt_k",
                platform="wechat",
                external_id="wx_grp_k",
                name="一群",
                kind="permanent",
                capacity=500,
                position=1,
                dissolve_at=None,
                segment_id=None,
                created_at=when,
            ),
            community_id="cmt_k",
        ),
        *[
            event(
                MemberJoined(
                    member_id=f"mbr_{name}",
                    community_id="cmt_k",
                    display_name=name,
                    identities=[PlatformIdentity(platform="wechat", external_id=name)],
                    joined_at=when,
                ),
                community_id="cmt_k",
            )
            for name in ("ann", "ben")
        ],
    )


def test_events_on_kafka_reach_the_overview(metrics: MetricsApi) -> None:
    now = datetime.now(UTC)
    # All at once, as production does: members' events and chat travel on different topics
    # with no order between them, so chat may be folded before its group exists; it is then
    # parked and folded when the group arrives.
    _setup(
        metrics,
        now,
        *[message(name, now, group_external_id="wx_grp_k") for name in ("ann", "ann", "ben")],
    )

    def overview() -> dict | None:  # type: ignore[type-arg]
        response = metrics.get("/v1/metrics/communities/cmt_k/overview")
        body = response.json() if response.status_code == 200 else None
        return body if body and body["today"]["messages"] == 3 else None

    body = eventually(overview, timeout=60)  # the consumer joins its group first: slow under load
    assert body is not None, "the messages never reached the overview"
    assert (body["members_total"], body["members_joined_7d"], body["groups_total"]) == (2, 2, 1)
    assert (body["today"]["speakers"], body["today"]["speaking_rate"]) == (2, 1.0)
    with metrics.engine.connect() as connection:  # whatever was parked has been replayed
        assert connection.execute(sa.text("SELECT count(*) FROM parked_event")).scalar() == 0
    assert (
        metrics.get("/v1/metrics/communities/cmt_k/overview", workspace="ws_x").status_code == 404
    )


def test_daily_series_and_csv_answer_for_a_range(metrics: MetricsApi) -> None:
    metrics.feed.community("cmt_1")
    metrics.feed.group()
    metrics.feed.join("mbr_a", "a", at("2026-03-01T01:00:00"))
    metrics.feed(
        message("a", at("2026-03-01T02:00:00")),
        message("a", at("2026-03-02T02:00:00")),
        message("a", at("2026-03-02T03:00:00")),
    )
    base = "/v1/metrics/communities/cmt_1"
    window = {"from": "2026-03-01", "to": "2026-03-03"}

    daily = metrics.get(f"{base}/daily", params=window).json()
    assert [d["messages"] for d in daily["days"]] == [1, 2, 0]
    assert [d["members_total"] for d in daily["days"]] == [1, 1, 1]
    group = metrics.get(f"{base}/groups/grp_1/daily", params=window).json()
    assert [d["speakers"] for d in group["days"]] == [1, 1, 0]

    weekly = metrics.get(
        f"{base}/series", params=window | {"metric": "messages", "interval": "week"}
    ).json()
    assert [(p["start"], p["value"]) for p in weekly["points"]] == [
        ("2026-02-23", 1),
        ("2026-03-02", 2),
    ]

    exported = metrics.get(f"{base}/exports/daily.csv", params=window)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["day", "members_total", "joined"]
    assert [r[0] for r in rows[1:]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert rows[2][rows[0].index("messages")] == "2"
    series_csv = metrics.get(
        f"{base}/exports/series.csv", params=window | {"metric": "speakers"}
    ).content.decode("utf-8-sig")
    contributors_csv = metrics.get(f"{base}/exports/contributors.csv", params=window)
    assert contributors_csv.content.decode("utf-8-sig").splitlines() == [
        "speaker,member_id,role,messages,active_days,replies,kol_candidate",
        "wechat:a,mbr_a,member,3,2,0,False",
    ]
    run_job_once(metrics.engine, HEALTH_JOB, at("2026-03-04T02:00:00"))
    groups_csv = metrics.get(f"{base}/exports/groups.csv").content.decode("utf-8-sig")
    assert groups_csv.splitlines()[0] == "group_id,name,score,band,day,reasons"
    assert groups_csv.splitlines()[1].startswith("grp_1,一群,")
    assert series_csv.splitlines() == [
        "start,speakers",
        "2026-03-01,1",
        "2026-03-02,1",
        "2026-03-03,0",
    ]


def test_bad_queries_are_problems_not_errors(metrics: MetricsApi) -> None:
    metrics.feed.community("cmt_1")
    base = "/v1/metrics/communities/cmt_1"
    unknown = metrics.get(f"{base}/series", params={"metric": "vibes"})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["type"].endswith("/metrics-metric-unknown")
    reversed_range = metrics.get(f"{base}/daily", params={"from": "2026-03-02", "to": "2026-03-01"})
    assert reversed_range.status_code == 422
    too_long = metrics.get(f"{base}/daily", params={"from": "2020-01-01", "to": "2026-03-01"})
    assert too_long.status_code == 422
    assert metrics.get(f"{base}/groups/grp_nope/daily").status_code == 404
    assert (
        metrics.get(f"{base}/exports/daily.csv", params={"group_id": "grp_nope"}).status_code == 404
    )
    assert metrics.get("/v1/metrics/communities/cmt_nope/overview").status_code == 404
    assert metrics.get(f"{base}/daily", params={"from": "yesterday"}).status_code == 422


def test_the_api_describes_its_metrics(metrics: MetricsApi) -> None:
    doc = metrics.client.get("/openapi.json").json()
    stats = doc["components"]["schemas"]["DayStats"]["properties"]
    assert "speakers / members_total" in stats["speaking_rate"]["description"]
    assert "/v1/metrics/communities/{community_id}/exports/daily.csv" in doc["paths"]
