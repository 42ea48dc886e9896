"""What a replica reads from members' community and group events: the whole state, and the
time it took effect, whichever of created, updated or dissolved carried it."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    CommunityCreated,
    CommunityUpdated,
    EventData,
    GroupCreated,
    GroupDissolved,
    GroupUpdated,
)
from services.common.replica import community_of, group_of

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
GROUP = {
    "group_id": "grp_1",
    "community_id": "cmt_1",
    "platform": "wechat",
    "external_id": "ext-1",
    "name": "一群",
    "kind": "permanent",
}


def _event(data: EventData) -> CloudEvent:
    return data.to_event(source="/test", workspace_id="ws_1", community_id="cmt_1", subject=None)


def test_a_created_community_is_its_state_as_of_creation() -> None:
    data = CommunityCreated(
        community_id="cmt_1",
        name="读书会",
        purpose="interest",
        timezone="Asia/Shanghai",
        created_at=AT,
    )
    community = community_of(_event(data))
    assert (community.workspace_id, community.id, community.at) == ("ws_1", "cmt_1", AT)
    assert community.state == {"name": "读书会", "purpose": "interest", "timezone": "Asia/Shanghai"}


def test_an_updated_community_takes_effect_when_it_was_updated() -> None:
    later = AT + timedelta(hours=1)
    data = CommunityUpdated(
        community_id="cmt_1",
        name="新名",
        purpose="interest",
        timezone="UTC",
        changed=["name", "timezone"],
        updated_at=later,
    )
    community = community_of(_event(data))
    assert community.at == later
    assert community.state == {"name": "新名", "purpose": "interest", "timezone": "UTC"}


def _group_events() -> list[tuple[EventData, str, datetime]]:
    common = {"capacity": 500, "position": 1, "dissolve_at": None, "segment_id": None}
    return [
        (GroupCreated(**GROUP, **common, created_at=AT), "new", AT),
        (
            GroupUpdated(
                **GROUP, **common, state="full", changed=["state"], updated_at=AT + timedelta(1)
            ),
            "full",
            AT + timedelta(1),
        ),
        (
            GroupDissolved(
                **GROUP, reason="expired", members_released=3, dissolved_at=AT + timedelta(2)
            ),
            "dissolved",
            AT + timedelta(2),
        ),
    ]


@pytest.mark.parametrize(("data", "state", "at"), _group_events())
def test_a_group_event_is_the_groups_whole_state(data: EventData, state: str, at: datetime) -> None:
    group = group_of(_event(data), created_state="new")
    assert (group.workspace_id, group.id, group.at) == ("ws_1", "grp_1", at)
    expected = {k: v for k, v in GROUP.items() if k != "group_id"} | {"state": state}
    assert group.state == expected


def test_a_group_event_is_not_read_as_a_community() -> None:
    data, _, _ = _group_events()[0]
    with pytest.raises(AssertionError):
        community_of(_event(data))
