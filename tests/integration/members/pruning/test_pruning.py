"""Inactivity pruning on real Postgres: dry and real runs, exemptions, the community's timezone
and the scheduled job running once per period. Activity is inserted by hand as
`member_activity_day` rows, the way chat activity records it."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from services.common.periodic import run_job_once
from services.members.app import JOBS
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = {
    "enabled": True,
    "period": "month",
    "run_day": 15,
    "min_participations": 3,
    "exempt_joined_within_days": 14,
}
JOB = next(j for j in JOBS if j.name == "scheduled-pruning")


def _active_on(members: MembersApi, community: dict[str, Any], member_id: str, *days: date) -> None:
    with members.engine.begin() as conn:
        for day in days:
            conn.execute(
                sa.text(
                    "INSERT INTO member_activity_day "
                    "(member_id, day, workspace_id, community_id, messages) "
                    "VALUES (:m, :d, 'ws_test', :c, 4)"
                ),
                {"m": member_id, "d": day, "c": community["id"]},
            )


def _joined(members: MembersApi, member_id: str, at: datetime) -> None:
    with members.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE member SET joined_at = :at WHERE id = :id"), {"at": at, "id": member_id}
        )


def _status(members: MembersApi, cid: str, member_id: str) -> str:
    return members.get(f"/v1/communities/{cid}/members/{member_id}").json()["status"]


def test_a_dry_run_lists_candidates_and_a_real_run_removes_them(
    members: MembersApi, outbox: Outbox
) -> None:
    community = members.community(settings={"inactivity": POLICY | {"enabled": False}})
    cid = community["id"]
    today = datetime.now(SHANGHAI).date()
    start, end = today - relativedelta(months=1), today - timedelta(days=1)
    quiet, some, enough, admin, newbie = (members.join(cid)["id"] for _ in range(5))
    members.patch(f"/v1/communities/{cid}/members/{admin}", json={"role": "admin"})
    for mid in (quiet, some, enough, admin):
        _joined(members, mid, datetime.now(UTC) - timedelta(days=90))
    _joined(members, newbie, datetime.now(UTC) - timedelta(days=3))
    _active_on(members, community, some, start, end, today, start - timedelta(days=1))
    _active_on(members, community, enough, start, start + timedelta(days=1), end)

    dry = members.post(f"/v1/communities/{cid}/prune-runs", json={"dry_run": True})
    assert dry.status_code == 200
    body = dry.json()
    assert (body["dry_run"], body["scheduled"], body["candidate_count"], body["removed_count"]) == (
        True,
        False,
        2,
        0,
    )
    assert (body["period_start"], body["period_end"]) == (start.isoformat(), end.isoformat())
    assert [
        (c["member_id"], c["participations"], c["outcome"]) for c in body["candidates"]["data"]
    ] == [
        (quiet, 0, "would_remove"),
        (some, 2, "would_remove"),
    ]
    assert _status(members, cid, quiet) == "active"

    real = members.post(f"/v1/communities/{cid}/prune-runs", json={"dry_run": False})
    assert real.status_code == 201
    run = real.json()
    assert (run["dry_run"], run["candidate_count"], run["removed_count"]) == (False, 2, 2)
    assert [_status(members, cid, m) for m in (quiet, some, enough, admin, newbie)] == [
        "removed",
        "removed",
        "active",
        "active",
        "active",
    ]
    history = members.get(f"/v1/communities/{cid}/members/{quiet}/history").json()["data"]
    assert history[-1]["actor"] == f"prune_run:{run['id']}"
    assert history[-1]["reason"].startswith("inactive: took part on 0 day(s)")

    runs = members.get(f"/v1/communities/{cid}/prune-runs").json()["data"]
    assert [(r["id"], r["dry_run"]) for r in runs] == [(body["id"], True), (run["id"], False)]
    page = members.get(f"/v1/communities/{cid}/prune-runs/{run['id']}", params={"limit": 1}).json()
    assert page["candidates"]["data"][0]["outcome"] == "removed"
    rest = members.get(
        f"/v1/communities/{cid}/prune-runs/{run['id']}",
        params={"limit": 1, "cursor": page["candidates"]["next_cursor"]},
    ).json()
    assert [c["member_id"] for c in rest["candidates"]["data"]] == [some]
    assert rest["candidates"]["next_cursor"] is None

    completed = outbox.events("io.qunyun.community.prune_run_completed.v1")
    assert [(e["dry_run"], e["removed_count"]) for e in completed] == [(True, 0), (False, 2)]
    removals = [
        e
        for e in outbox.events("io.qunyun.member.status_changed.v1")
        if e["actor"].startswith("prune_run:")
    ]
    assert sorted(e["member_id"] for e in removals) == sorted([quiet, some])


def test_the_scheduled_job_runs_once_per_period_on_the_local_run_day(
    members: MembersApi,
) -> None:
    shanghai = members.community(settings={"inactivity": POLICY})
    utc = members.community(timezone="UTC", settings={"inactivity": POLICY})
    disabled = members.community(settings={"inactivity": POLICY | {"enabled": False}})
    cid = shanghai["id"]
    late, early = members.join(cid)["id"], members.join(cid)["id"]
    in_utc = members.join(utc["id"])["id"]
    in_disabled = members.join(disabled["id"])["id"]
    for mid in (late, early, in_utc, in_disabled):
        _joined(members, mid, datetime(2025, 1, 1, tzinfo=UTC))
    # 23:30 in Shanghai on 14 Nov is 15:30 UTC: a message then belongs to the local 14th.
    message_at = datetime(2025, 11, 14, 15, 30, tzinfo=UTC)
    local_day = message_at.astimezone(SHANGHAI).date()
    assert local_day == date(2025, 11, 14)
    _active_on(members, shanghai, late, date(2025, 10, 15), date(2025, 11, 1), local_day)
    _active_on(members, shanghai, early, date(2025, 10, 14), date(2025, 11, 1), date(2025, 11, 2))

    # 23:59 on the 14th in Shanghai: not yet the run day.
    assert run_job_once(members.engine, JOB, now=datetime(2025, 11, 14, 15, 59, tzinfo=UTC)) == 0
    # 00:30 on the 15th in Shanghai, still the 14th in UTC: only Shanghai runs.
    assert run_job_once(members.engine, JOB, now=datetime(2025, 11, 14, 16, 30, tzinfo=UTC)) == 1
    assert run_job_once(members.engine, JOB, now=datetime(2025, 11, 15, 9, 0, tzinfo=UTC)) == 1
    assert run_job_once(members.engine, JOB, now=datetime(2025, 11, 15, 15, 0, tzinfo=UTC)) == 0

    runs = members.get(f"/v1/communities/{cid}/prune-runs").json()["data"]
    assert len(runs) == 1 and runs[0]["scheduled"] and runs[0]["actor"] == "schedule"
    assert (runs[0]["period_start"], runs[0]["period_end"]) == ("2025-10-15", "2025-11-14")
    assert (_status(members, cid, late), _status(members, cid, early)) == ("active", "removed")
    assert _status(members, utc["id"], in_utc) == "removed"
    assert _status(members, disabled["id"], in_disabled) == "active"
    assert members.get(f"/v1/communities/{disabled['id']}/prune-runs").json()["data"] == []

    # The next month's run judges the next period.
    assert run_job_once(members.engine, JOB, now=datetime(2025, 12, 15, 1, 0, tzinfo=UTC)) == 2
    runs = members.get(f"/v1/communities/{cid}/prune-runs").json()["data"]
    assert (runs[1]["period_start"], runs[1]["period_end"]) == ("2025-11-15", "2025-12-14")
    assert _status(members, cid, late) == "removed"


def test_missed_discussions_and_a_scheduled_dry_run(members: MembersApi) -> None:
    # The seed's learning group: discussions Monday–Friday; 3 missed in the month → out.
    policy = POLICY | {
        "window": "calendar",
        "discussion_weekdays": [0, 1, 2, 3, 4],
        "max_missed_discussions": 3,
        "scheduled_dry_run": True,
    }
    community = members.community(settings={"inactivity": policy})
    cid = community["id"]
    diligent, truant = members.join(cid)["id"], members.join(cid)["id"]
    for mid in (diligent, truant):
        _joined(members, mid, datetime(2025, 1, 1, tzinfo=UTC))
    october = [date(2025, 10, d) for d in range(1, 32)]
    weekdays = [d for d in october if d.weekday() < 5]  # 23 discussions
    weekend = [d for d in october if d.weekday() >= 5]
    _active_on(members, community, diligent, *weekdays[2:])  # missed two
    _active_on(
        members, community, truant, *weekdays[3:], *weekend
    )  # missed three; weekends don't count

    assert run_job_once(members.engine, JOB, now=datetime(2025, 11, 15, 2, 0, tzinfo=UTC)) == 1
    run = members.get(f"/v1/communities/{cid}/prune-runs").json()["data"][0]
    assert (run["period_start"], run["period_end"], run["dry_run"]) == (
        "2025-10-01",
        "2025-10-31",
        True,
    )
    detail = members.get(f"/v1/communities/{cid}/prune-runs/{run['id']}").json()
    assert [
        (c["member_id"], c["participations"], c["missed"], c["outcome"])
        for c in detail["candidates"]["data"]
    ] == [(truant, 20, 3, "would_remove")]
    assert _status(members, cid, truant) == "active"


def test_silent_members_have_not_spoken_since(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    talker, lurker, never = (members.join(cid)["id"] for _ in range(3))
    with members.engine.begin() as conn:
        for mid, at in [(talker, "2025-11-14T12:00:00Z"), (lurker, "2025-11-01T12:00:00Z")]:
            conn.execute(
                sa.text("UPDATE member SET last_active_at = :at WHERE id = :id"),
                {"at": datetime.fromisoformat(at), "id": mid},
            )
    silent = members.get(
        f"/v1/communities/{cid}/silent-members", params={"since": "2025-11-10T00:00:00+08:00"}
    ).json()
    assert [m["id"] for m in silent["data"]] == [lurker, never]
    assert members.get(f"/v1/communities/{cid}/silent-members").status_code == 422


def test_another_workspace_cannot_run_or_read_prune_runs(members: MembersApi) -> None:
    community = members.community(settings={"inactivity": POLICY})
    cid = community["id"]
    mid = members.join(cid)["id"]
    _joined(members, mid, datetime(2025, 1, 1, tzinfo=UTC))
    run = members.post(f"/v1/communities/{cid}/prune-runs", json={"dry_run": True}).json()
    other = "ws_other"
    assert (
        members.post(f"/v1/communities/{cid}/prune-runs", workspace=other, json={}).status_code
        == 404
    )
    assert members.get(f"/v1/communities/{cid}/prune-runs", workspace=other).status_code == 404
    assert (
        members.get(f"/v1/communities/{cid}/prune-runs/{run['id']}", workspace=other).status_code
        == 404
    )
    assert (
        members.get(
            f"/v1/communities/{cid}/silent-members",
            workspace=other,
            params={"since": "2025-01-01T00:00:00Z"},
        ).status_code
        == 404
    )
    for not_a_boolean in ("maybe", "yes", "false", 0):
        refused = members.post(f"/v1/communities/{cid}/prune-runs", json={"dry_run": not_a_boolean})
        assert refused.status_code == 422
    # Without an explicit `false`, nobody is removed.
    for body in ({}, None):
        kept = members.post(f"/v1/communities/{cid}/prune-runs", json=body)
        assert (kept.status_code, kept.json()["dry_run"]) == (200, True)
    assert _status(members, cid, mid) == "active"
