"""What other services replicate of a group reaches them as `group.updated`, with the group's
whole replicated state: a rename, a new capacity, a move in the filling order (the groups
shifted by it too), filling up, and dissolving."""

import pytest

from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration

UPDATED = "io.qunyun.group.updated.v1"


def test_renames_resizes_and_moves_are_announced(members: MembersApi, outbox: Outbox) -> None:
    community = members.make.community()
    cid = community["id"]
    first, second, third = (members.make.group(cid, name=n) for n in ("一群", "二群", "三群"))
    assert outbox.events(UPDATED) == []  # creating is group.created's

    path = f"/v1/communities/{cid}/groups/{third['id']}"
    response = members.patch(path, json={"name": "三群·新", "capacity": 300, "position": 1})
    assert response.status_code == 200, response.text

    events = outbox.events(UPDATED)
    by_group = {e["group_id"]: e for e in events}
    assert len(events) == 3
    moved = by_group[third["id"]]
    assert sorted(moved["changed"]) == ["capacity", "name", "position"]
    assert (moved["name"], moved["capacity"], moved["position"], moved["state"]) == (
        "三群·新",
        300,
        1,
        "filling",
    )
    assert by_group[first["id"]]["changed"] == ["position"]
    assert (by_group[first["id"]]["position"], by_group[second["id"]]["position"]) == (2, 3)

    assert members.patch(path, json={"name": "三群·新"}).status_code == 200
    assert len(outbox.events(UPDATED)) == 3  # nothing changed, nothing said


def test_filling_up_and_dissolving_are_announced_as_state(
    members: MembersApi, outbox: Outbox
) -> None:
    community = members.make.community()
    cid = community["id"]
    group = members.make.group(cid, capacity=1)
    member = members.make.member(cid)
    placed = members.post(
        f"/v1/communities/{cid}/group-assignments", json={"member_id": member["id"]}
    )
    assert placed.status_code == 201, placed.text
    dissolved = members.post(f"/v1/communities/{cid}/groups/{group['id']}/dissolve")
    assert dissolved.status_code == 200, dissolved.text

    states = [(e["group_id"], e["state"], e["changed"]) for e in outbox.events(UPDATED)]
    assert states == [
        (group["id"], "full", ["state"]),
        (group["id"], "dissolved", ["state"]),
    ]
