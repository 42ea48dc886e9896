"""Segments on real Postgres: every rule alone and combined against a small population whose
answers are known, pages, preview, saved segments and their validation."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.members.segments import sql
from services.members.segments import sql as segments_sql
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


# name: status, role, stage, level, points, joined (days ago), last active (days ago), tags
PEOPLE: dict[str, tuple[str, str, str, int, int, int, int | None, list[str]]] = {
    "ann": ("active", "kol", "active", 5, 300, 100, 2, ["vip", "beijing"]),
    "bob": ("active", "member", "joined", 1, 0, 3, None, []),
    "cat": ("muted", "member", "communicating", 3, 30, 400, 60, ["vip"]),
    "dan": ("removed", "member", "favourable", 2, 10, 200, 10, ["vip"]),
    "eve": ("active", "admin", "paying", 4, 100, 40, 40, ["beijing"]),
    "fay": ("active", "member", "joined", 1, 2, 50, None, []),
    "gus": ("merged", "member", "joined", 1, 0, 20, 1, ["vip"]),
    "hal": ("banned", "kol", "joined", 1, 0, 300, 5, []),
}


class Population:
    """The people above in one community, with two groups: ann and bob (who left) in G1,
    cat and eve in G2."""

    def __init__(self, members: MembersApi):
        self.members = members
        self.community_id = members.community(timezone="Asia/Shanghai")["id"]
        self.ids = {name: self._join(name) for name in PEOPLE}
        self.names = {member_id: name for name, member_id in self.ids.items()}
        self.tags = {name: self._tag(name) for name in ("vip", "beijing")}
        for name, (*_, tags) in PEOPLE.items():
            for tag in tags:
                self._post(f"tags/{self.tags[tag]}/members", {"member_ids": [self.ids[name]]}, 200)
        self.groups = {"G1": self._group("G1", 0), "G2": self._group("G2", 1)}
        self._in_group("G1", "ann")
        self._in_group("G1", "bob", left=True)
        self._in_group("G2", "cat")
        self._in_group("G2", "eve")
        self._shape()

    def _post(self, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = self.members.post(f"/v1/communities/{self.community_id}/{path}", json=body)
        assert response.status_code == status, response.text
        return response.json()  # type: ignore[no-any-return]

    def _join(self, name: str) -> str:
        return self.members.join(self.community_id, display_name=name)["id"]  # type: ignore[no-any-return]

    def _tag(self, name: str) -> str:
        return self._post("tags", {"name": name}, 201)["id"]  # type: ignore[no-any-return]

    def _group(self, name: str, position: int) -> str:
        group_id = f"grp_{name}_{self.community_id[-6:]}"
        with self.members.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO chat_group (id, workspace_id, community_id, platform,"
                    " external_id, name, capacity, kind, state, position, created_at)"
                    " VALUES (:id, 'ws_test', :c, 'wechat', :id, :name, 500, 'permanent',"
                    " 'filling', :position, now())"
                ),
                {"id": group_id, "c": self.community_id, "name": name, "position": position},
            )
        return group_id

    def _in_group(self, group: str, name: str, *, left: bool = False) -> None:
        with self.members.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO group_membership (group_id, member_id, workspace_id,"
                    " joined_at, left_at) VALUES (:g, :m, 'ws_test', now(), :left)"
                ),
                {"g": self.groups[group], "m": self.ids[name], "left": NOW if left else None},
            )

    def _shape(self) -> None:
        """What other sub-domains would have recorded over time, written directly."""
        with self.members.engine.begin() as conn:
            for name, (status, role, stage, level, points, joined, active, _) in PEOPLE.items():
                conn.execute(
                    sa.text(
                        "UPDATE member SET status = :status, role = :role, stage = :stage,"
                        " level = :level, points = :points, joined_at = :joined,"
                        " last_active_at = :active,"
                        " merged_into = CASE WHEN :status = 'merged' THEN :ann END"
                        " WHERE id = :id"
                    ),
                    {
                        "id": self.ids[name],
                        "ann": self.ids["ann"],
                        "status": status,
                        "role": role,
                        "stage": stage,
                        "level": level,
                        "points": points,
                        "joined": days_ago(joined),
                        "active": None if active is None else days_ago(active),
                    },
                )

    def preview(self, rules: dict[str, Any], **params: Any) -> Any:
        return self.members.post(
            f"/v1/communities/{self.community_id}/segments/preview",
            json={"rules": rules},
            params=params,
        )

    def selected(self, rules: dict[str, Any]) -> set[str]:
        response = self.preview(rules, limit=200)
        assert response.status_code == 200, response.text
        body = response.json()
        names = {self.names[m["id"]] for m in body["data"]}
        assert body["count"] == len(names)
        return names


@pytest.fixture
def people(members: MembersApi) -> Population:
    return Population(members)


def _cases(p: Population) -> list[tuple[dict[str, Any], set[str]]]:
    vip, beijing = p.tags["vip"], p.tags["beijing"]
    g1, g2 = p.groups["G1"], p.groups["G2"]
    return [
        ({}, {"ann", "bob", "cat", "eve", "fay"}),
        ({"status": ["removed", "banned"]}, {"dan", "hal"}),
        ({"status": ["active"]}, {"ann", "bob", "eve", "fay"}),
        ({"tags": {"any": [vip, beijing]}}, {"ann", "cat", "eve"}),
        ({"tags": {"all": [vip, beijing]}}, {"ann"}),
        ({"tags": {"none": [vip]}}, {"bob", "eve", "fay"}),
        ({"tags": {"any": [beijing], "none": [vip]}}, {"eve"}),
        ({"stage": ["joined", "paying"]}, {"bob", "eve", "fay"}),
        ({"level": {"min": 3}}, {"ann", "cat", "eve"}),
        ({"level": {"max": 1}}, {"bob", "fay"}),
        ({"level": {"min": 3, "max": 4}}, {"cat", "eve"}),
        ({"points": {"min": 100}}, {"ann", "eve"}),
        ({"points": {"max": 2}}, {"bob", "fay"}),
        ({"joined": {"within_days": 45}}, {"bob", "eve"}),
        (
            {"joined": {"from": days_ago(60).isoformat(), "to": days_ago(30).isoformat()}},
            {"eve", "fay"},
        ),
        ({"joined": {"to": days_ago(90).isoformat()}}, {"ann", "cat"}),
        ({"last_active": {"active_within_days": 30}}, {"ann"}),
        ({"last_active": {"inactive_days": 30}}, {"cat", "eve", "fay"}),
        ({"last_active": {"after": days_ago(45).isoformat()}}, {"ann", "eve"}),
        ({"last_active": {"before": days_ago(30).isoformat()}}, {"cat", "eve", "fay"}),
        (
            {"last_active": {"active_within_days": 50, "inactive_days": 30}},
            {"eve"},
        ),
        ({"groups": {"any": [g1]}}, {"ann"}),
        ({"groups": {"none": [g1]}}, {"bob", "cat", "eve", "fay"}),
        ({"groups": {"any": [g1, g2], "none": [g2]}}, {"ann"}),
        ({"role": ["kol"]}, {"ann"}),
        ({"role": ["kol"], "status": ["banned", "active"]}, {"ann", "hal"}),
        ({"groups": {"any": [g2]}, "role": ["admin"]}, {"eve"}),
        (
            {
                "tags": {"any": [vip]},
                "level": {"min": 3},
                "last_active": {"active_within_days": 90},
            },
            {"ann", "cat"},
        ),
        ({"status": ["active"], "tags": {"any": [vip]}}, {"ann"}),
        ({"stage": ["joined"], "joined": {"within_days": 7}, "tags": {"none": [vip]}}, {"bob"}),
    ]


def test_each_rule_alone_and_combined_selects_exactly_the_right_members(
    people: Population,
) -> None:
    wrong = []
    for rules, expected in _cases(people):
        got = people.selected(rules)
        if got != expected:
            wrong.append(f"{rules}: expected {sorted(expected)}, got {sorted(got)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("sort_all_up_to", [sql.SORT_ALL_UP_TO, 0])
def test_segment_members_come_in_id_order_a_page_at_a_time(
    people: Population, monkeypatch: pytest.MonkeyPatch, sort_all_up_to: int
) -> None:
    # Both ways of cutting a page: from all matches sorted, and walking ids in order.
    monkeypatch.setattr(segments_sql, "SORT_ALL_UP_TO", sort_all_up_to)
    cid = people.community_id
    segment = people._post("segments", {"name": "everyone", "rules": {}}, 201)
    path = f"/v1/communities/{cid}/segments/{segment['id']}/members"
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = people.members.get(path, params=params).json()
        seen += [m["id"] for m in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(people.ids[n] for n in ("ann", "bob", "cat", "eve", "fay"))
    first = people.members.get(path, params={"limit": 2}).json()["data"][0]
    assert first["identities"][0]["platform"] == "wechat"
    count = people.members.get(f"/v1/communities/{cid}/segments/{segment['id']}/count").json()
    assert count["count"] == 5
    assert people.members.get(path, params={"cursor": "!!"}).status_code == 400


def test_preview_counts_and_shows_the_first_page(people: Population) -> None:
    body = people.preview({"status": ["active", "muted", "removed"]}, limit=3).json()
    assert body["count"] == 6
    assert len(body["data"]) == 3
    assert body["next_cursor"] is not None
    assert [m["id"] for m in body["data"]] == sorted(m["id"] for m in body["data"])


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"level": {"min": 5, "max": 3}}, "rules.level"),
        ({"points": {"min": -1}}, "rules.points.min"),
        ({"level": {}}, "rules.level"),
        ({"stage": []}, "rules.stage"),
        ({"stage": ["dormant"]}, "rules.stage.0"),
        ({"status": ["merged"]}, "rules.status"),
        ({"tags": {"all": ["tag_a"], "none": ["tag_a"]}}, "rules.tags"),
        (
            {"joined": {"from": "2024-05-01T00:00:00+08:00", "to": "2024-04-01T00:00:00+08:00"}},
            "rules.joined",
        ),
        ({"joined": {"from": "2024-05-01T00:00:00"}}, "rules.joined.from"),
        ({"last_active": {"active_within_days": 7, "inactive_days": 30}}, "rules.last_active"),
        ({"colour": ["red"]}, "rules.colour"),
    ],
)
def test_invalid_rules_are_a_422_naming_the_field(
    people: Population, rules: dict[str, Any], field: str
) -> None:
    response = people.preview(rules)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_rules_may_only_name_the_communitys_tags_and_groups(people: Population) -> None:
    other = people.members.community()["id"]
    foreign = people.members.post(f"/v1/communities/{other}/tags", json={"name": "vip"}).json()
    for rules, field in (
        ({"tags": {"any": [people.tags["vip"], foreign["id"]]}}, "rules.tags"),
        ({"groups": {"any": ["grp_nope"]}}, "rules.groups"),
    ):
        response = people.preview(rules)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert foreign["id"] in response.text or "grp_nope" in response.text


def test_saved_segments_are_created_listed_changed_and_deleted(people: Population) -> None:
    members, cid = people.members, people.community_id
    base = f"/v1/communities/{cid}/segments"
    vip_rules = {"tags": {"any": [people.tags["vip"]]}}
    vip = people._post("segments", {"name": "VIP", "rules": vip_rules}, 201)
    # Stored with the default statuses spelled out: a later default does not change it.
    assert vip["rules"] == vip_rules | {"status": ["active", "muted"]}
    assert vip["created_by"] == "api_key:key_test"
    kol = people._post("segments", {"name": "KOL", "rules": {"role": ["kol"]}}, 201)
    assert members.post(base, json={"name": "VIP", "rules": {}}).status_code == 409

    assert [s["id"] for s in members.get(base).json()["data"]] == [vip["id"], kol["id"]]
    assert members.get(f"{base}/{vip['id']}").json()["name"] == "VIP"
    assert members.get(f"{base}/{vip['id']}/count").json()["count"] == 2

    changed = members.patch(f"{base}/{vip['id']}", json={"rules": {"level": {"min": 3}}})
    assert changed.status_code == 200
    assert changed.json()["rules"] == {"level": {"min": 3}, "status": ["active", "muted"]}
    assert members.get(f"{base}/{vip['id']}/count").json()["count"] == 3
    assert members.patch(f"{base}/{vip['id']}", json={"name": "KOL"}).status_code == 409
    invalid = members.patch(f"{base}/{vip['id']}", json={"rules": {"level": {"min": 9, "max": 1}}})
    assert invalid.status_code == 422
    assert members.get(f"{base}/{vip['id']}").json()["rules"]["level"] == {"min": 3}

    assert members.delete(f"{base}/{kol['id']}").status_code == 204
    assert members.get(f"{base}/{kol['id']}").status_code == 404
    assert members.get(f"{base}/{kol['id']}/members").status_code == 404


def test_another_workspace_cannot_see_or_use_segments(people: Population) -> None:
    members, cid = people.members, people.community_id
    segment = people._post("segments", {"name": "all", "rules": {}}, 201)
    base = f"/v1/communities/{cid}/segments"
    other = {"workspace": "ws_other"}
    for response in (
        members.get(base, **other),
        members.get(f"{base}/{segment['id']}", **other),
        members.get(f"{base}/{segment['id']}/members", **other),
        members.get(f"{base}/{segment['id']}/count", **other),
        members.post(f"{base}/preview", json={"rules": {}}, **other),
        members.post(base, json={"name": "x", "rules": {}}, **other),
        members.delete(f"{base}/{segment['id']}", **other),
    ):
        assert response.status_code == 404, response.text
