"""What other services replicate of a community reaches them as `community.updated`, with the
whole replicated state, whenever it changes, and not when nothing they keep changed."""

import pytest

from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration

UPDATED = "io.qunyun.community.updated.v1"


def test_renaming_or_moving_a_community_is_announced_with_its_state(
    members: MembersApi, outbox: Outbox
) -> None:
    community = members.make.community(name="读书会", timezone="Asia/Shanghai")
    path = f"/v1/communities/{community['id']}"

    assert members.patch(path, json={"description": "每周一本"}).status_code == 200
    assert outbox.events(UPDATED) == []  # the description is members' own

    response = members.patch(path, json={"name": "读书会·北京", "timezone": "Europe/Berlin"})
    assert response.status_code == 200
    [event] = outbox.events(UPDATED)
    assert event["community_id"] == community["id"]
    assert (event["name"], event["timezone"], event["purpose"]) == (
        "读书会·北京",
        "Europe/Berlin",
        "interest",
    )
    assert sorted(event["changed"]) == ["name", "timezone"]

    assert members.patch(path, json={"name": "读书会·北京"}).status_code == 200
    assert len(outbox.events(UPDATED)) == 1  # the same name again changes nothing


def test_changed_settings_are_announced_by_section(members: MembersApi, outbox: Outbox) -> None:
    community = members.make.community()
    path = f"/v1/communities/{community['id']}/settings"
    response = members.patch(path, json={"points": {"message": 3}})
    assert response.status_code == 200, response.text
    [event] = outbox.events(UPDATED)
    assert event["changed"] == ["settings.points"]
    assert event["timezone"] == community["timezone"]
