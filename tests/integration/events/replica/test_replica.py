"""The replica: communities and members as members' events on Kafka say, so eligibility
follows a member's level, tags and removal, and a community stays in its workspace; on real
Postgres and Kafka."""

import pytest
from sqlmodel import select

from services.common.contracts import (
    CommunityCreated,
    MemberJoined,
    MemberLevelReached,
    MembersMerged,
    MemberStatusChanged,
    MemberTagged,
    PlatformIdentity,
)
from services.common.ids import new_id
from services.events.replica.models import Member, MemberIdentity
from tests.integration.events.conftest import NOW, EventsApi, eventually

pytestmark = pytest.mark.integration


def test_the_replica_follows_members_events_on_kafka(events: EventsApi) -> None:
    cid, mid = new_id("cmt"), new_id("mbr")
    events.publish(
        CommunityCreated(
            community_id=cid,
            name="读书会",
            purpose="interest",
            timezone="Asia/Shanghai",
            created_at=NOW,
        ),
        community_id=cid,
    )
    events.publish(
        MemberJoined(
            member_id=mid,
            community_id=cid,
            display_name="林晓",
            identities=[PlatformIdentity(platform="wechat", external_id="wx_lin")],
            joined_at=NOW,
        ),
        community_id=cid,
    )
    events.publish(
        MemberLevelReached(member_id=mid, community_id=cid, level=3, points=80, reached_at=NOW),
        community_id=cid,
    )
    events.publish(
        MemberTagged(
            member_id=mid,
            community_id=cid,
            tag_id="tag_1",
            tag_name="VIP",
            category="spending",
            tagged_at=NOW,
        ),
        community_id=cid,
    )
    assert eventually(lambda: events.get(f"/v1/communities/{cid}/activities").status_code == 200)
    activity = events.activity(cid, eligibility={"min_level": 3, "tags_any": ["VIP"]})
    path = f"/v1/communities/{cid}/activities/{activity['id']}/eligibility/{mid}"
    assert eventually(lambda: events.get(path).json()["eligible"]), events.get(path).json()

    events.publish(
        MemberStatusChanged(
            member_id=mid,
            community_id=cid,
            from_status="active",
            to_status="removed",
            actor="op",
            reason=None,
            until=None,
            identities=[],
            changed_at=NOW,
        ),
        community_id=cid,
    )
    answer = eventually(lambda: (a := events.get(path).json())["eligible"] is False and a)
    assert answer["condition"] == "not-a-member"
    # Another workspace does not see the community.
    assert events.get(f"/v1/communities/{cid}/activities", workspace="ws_other").status_code == 404


def test_a_merge_moves_tags_level_and_identities_to_the_survivor(events: EventsApi) -> None:
    cid = events.community()
    survivor = events.member(cid, external_id="wx_keep")
    merged = events.member(cid, external_id="wx_gone")
    events.feed(
        MemberTagged(
            member_id=merged,
            community_id=cid,
            tag_id="tag_1",
            tag_name="VIP",
            category="spending",
            tagged_at=NOW,
        ),
        community_id=cid,
    )
    events.feed(
        MemberLevelReached(member_id=merged, community_id=cid, level=4, points=90, reached_at=NOW),
        community_id=cid,
    )
    merge = MembersMerged(survivor_id=survivor, merged_id=merged, community_id=cid, merged_at=NOW)
    events.feed(merge, community_id=cid)
    events.feed(merge, community_id=cid)  # a replay changes nothing

    with events.session() as session:
        kept, gone = session.get(Member, survivor), session.get(Member, merged)
        assert kept is not None and gone is not None
        assert (kept.tags, kept.level, kept.status) == (["VIP"], 4, "active")
        assert (gone.status, gone.merged_into) == ("merged", survivor)
        owners = {
            i.external_id: i.member_id
            for i in session.exec(select(MemberIdentity).where(MemberIdentity.community_id == cid))
        }
    assert owners == {"wx_keep": survivor, "wx_gone": survivor}
