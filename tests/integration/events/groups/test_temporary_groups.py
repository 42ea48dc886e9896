"""An activity's temporary group (on the real broker and database): asked for when the
activity is published, and linked by an operator with registrants invited; or linked when
members answers the request with `group.activity_group_created`: everyone confirmed is
invited once, a repeated answer changes nothing, a group an operator linked first stays, and
an answer about an activity unknown here is ignored."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.contracts import ActivityGroupCreated, GroupCreated
from services.common.ids import new_id
from tests.integration.events.conftest import EventsApi, eventually, of_type

pytestmark = pytest.mark.integration

WANTS_GROUP = {"kind": "training_camp", "temporary_group": {"platform": "wechat"}}


def _answer(cid: str, aid: str, group_id: str | None = None) -> ActivityGroupCreated:
    now = datetime.now(UTC)
    return ActivityGroupCreated(
        group_id=group_id or new_id("grp"),
        activity_id=aid,
        community_id=cid,
        platform="wechat",
        external_id=f"activity:{aid}",
        name="训练营临时群",
        kind="temporary",
        capacity=500,
        dissolve_at=now + timedelta(days=3),
        created_at=now,
    )


def _announce(events: EventsApi, answer: ActivityGroupCreated, *, with_group: bool = True) -> None:
    """What members publishes: `group.created`, then its answer, on the members topic."""
    if with_group:
        fields = answer.model_dump(exclude={"activity_id"})
        created = GroupCreated(**fields, position=1, segment_id=None)
        events.publish(created, community_id=answer.community_id)
    events.publish(answer, community_id=answer.community_id)


def _group_of(events: EventsApi, cid: str, aid: str) -> Any:
    return events.get(f"/v1/communities/{cid}/activities/{aid}").json()["group_id"]


def test_a_temporary_group_is_asked_for_and_registrants_invited(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid, external_id="wx_ann")
    activity = events.activity(
        cid, kind="training_camp", temporary_group={"platform": "wechat", "grace_hours": 48}
    )
    aid = activity["id"]
    events.move(cid, aid, "published", "registration_open")
    events.post(f"/v1/communities/{cid}/activities/{aid}/registrations", json={"member_id": ann})
    group = events.group(cid, external_id="wx_camp")
    linked = events.put(f"/v1/communities/{cid}/activities/{aid}/group", json={"group_id": group})
    assert linked.status_code == 200 and linked.json()["group_id"] == group
    assert (
        events.put(
            f"/v1/communities/{cid}/activities/{aid}/group", json={"group_id": "grp_nope"}
        ).status_code
        == 404
    )

    published = events.published(expect=3)
    (requested,) = of_type(published, "temporary_group_requested")
    assert requested["activity_id"] == aid and requested["platform"] == "wechat"
    assert requested["dissolve_at"].startswith("2030-06-03T13:00:00")  # 21:00 Shanghai + 48 h
    (invited,) = of_type(published, "group_invitation_requested")
    assert invited["member_id"] == ann and invited["group_external_id"] == "wx_camp"
    assert invited["identities"] == [{"platform": "wechat", "external_id": "wx_ann"}]


def test_the_answer_links_the_group_and_invites_the_confirmed_once(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid, external_id="wx_ann")
    aid = events.open_activity(cid, **WANTS_GROUP)["id"]
    registered = events.post(
        f"/v1/communities/{cid}/activities/{aid}/registrations", json={"member_id": ann}
    )
    assert registered.status_code == 201, registered.text
    answer = _answer(cid, aid)
    _announce(events, answer)
    assert eventually(lambda: _group_of(events, cid, aid) == answer.group_id)

    # The same answer again (a new event id), then a second activity's answer that arrives
    # without its group.created: once that one is linked, the repeat has been consumed.
    events.publish(answer, community_id=cid)
    later = events.open_activity(cid, **WANTS_GROUP)["id"]
    later_answer = _answer(cid, later)
    _announce(events, later_answer, with_group=False)
    assert eventually(lambda: _group_of(events, cid, later) == later_answer.group_id)

    published = events.published(expect=4)
    assert [r["activity_id"] for r in of_type(published, "temporary_group_requested")] == [
        aid,
        later,
    ]
    (invited,) = of_type(published, "group_invitation_requested")
    assert (invited["member_id"], invited["group_id"]) == (ann, answer.group_id)
    assert invited["group_external_id"] == f"activity:{aid}"
    assert invited["identities"] == [{"platform": "wechat", "external_id": "wx_ann"}]

    # Someone confirmed after the link is invited as they register.
    bo = events.member(cid, external_id="wx_bo")
    events.post(f"/v1/communities/{cid}/activities/{aid}/registrations", json={"member_id": bo})
    invitations = of_type(events.published(expect=6), "group_invitation_requested")
    assert [i["member_id"] for i in invitations] == [ann, bo]


def test_an_operators_group_stays_and_strangers_answers_are_ignored(events: EventsApi) -> None:
    cid = events.community()
    aid = events.open_activity(cid, **WANTS_GROUP)["id"]
    by_hand = events.group(cid, external_id="wx_by_hand")
    linked = events.put(f"/v1/communities/{cid}/activities/{aid}/group", json={"group_id": by_hand})
    assert linked.status_code == 200, linked.text
    _announce(events, _answer(cid, aid))
    _announce(events, _answer(cid, "act_unknown"))
    elsewhere = events.community(workspace="ws_other")
    _announce(events, _answer(elsewhere, aid))  # the same activity id, another tenant's community

    marker = events.open_activity(cid, **WANTS_GROUP)["id"]
    marker_answer = _answer(cid, marker)
    _announce(events, marker_answer)
    assert eventually(lambda: _group_of(events, cid, marker) == marker_answer.group_id)
    assert _group_of(events, cid, aid) == by_hand
