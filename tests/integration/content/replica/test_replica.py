"""The replica: communities and groups as members' events on Kafka say, a newer state never
undone by an older event arriving late."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from services.common.contracts import CommunityCreated, GroupCreated, GroupDissolved, GroupUpdated
from services.common.ids import new_id
from services.content.publishing.models import OccurrenceRecord
from services.content.replica.models import Community, Group
from tests.integration.content.conftest import ContentApi, eventually


def test_the_replica_follows_members_events_on_kafka(content: ContentApi) -> None:
    community_id, group_id = new_id("cmt"), new_id("grp")
    at = datetime.now(UTC)
    group = {
        "group_id": group_id,
        "community_id": community_id,
        "platform": "qq",
        "external_id": "qq-1",
        "kind": "temporary",
        "capacity": 2000,
        "position": 1,
        "dissolve_at": None,
        "segment_id": None,
    }
    content.publish(
        CommunityCreated(
            community_id=community_id,
            name="夜话",
            purpose="interest",
            timezone="Europe/Berlin",
            created_at=at,
        ),
        community_id=community_id,
    )
    content.publish(
        GroupCreated(**group, name="夜话一群", created_at=at), community_id=community_id
    )
    newer = GroupUpdated(
        **group,
        name="夜话新群",
        state="full",
        changed=["name"],
        updated_at=at + timedelta(seconds=2),
    )
    older = GroupUpdated(
        **group,
        name="旧名",
        state="filling",
        changed=["name"],
        updated_at=at + timedelta(seconds=1),
    )
    content.publish(newer, community_id=community_id)
    content.publish(older, community_id=community_id)  # arrives late: must not undo the newer
    assert eventually(
        lambda: content.get(f"/v1/communities/{community_id}/contents").status_code == 200
    )

    def group_row() -> Group | None:
        with content.session() as session:
            return session.get(Group, group_id)

    assert eventually(lambda: (g := group_row()) is not None and g.name == "夜话新群")
    eventually(lambda: False, timeout=1.5)
    row = group_row()
    assert row is not None and (row.name, row.state) == ("夜话新群", "full")
    content.publish(
        GroupDissolved(
            group_id=group_id,
            community_id=community_id,
            platform="qq",
            external_id="qq-1",
            name="夜话新群",
            kind="temporary",
            reason="temporary group ended",
            members_released=3,
            dissolved_at=at + timedelta(seconds=5),
        ),
        community_id=community_id,
    )
    assert eventually(lambda: (g := group_row()) is not None and g.state == "dissolved")
    with content.session() as session:
        community = session.get(Community, community_id)
        assert community is not None and community.timezone == "Europe/Berlin"
        assert session.exec(select(OccurrenceRecord)).all() == []
