"""The replicas of communities and members on a real Postgres: a merge counts the merged
record out once and moves its accounts to the survivor; an older community state arriving
late changes nothing."""

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from services.common.contracts import CommunityUpdated, MembersMerged
from services.metrics.replica.models import Community, Member, MemberIdentity
from tests.integration.metrics.conftest import Feed, at, event

pytestmark = pytest.mark.integration


def test_a_merge_counts_the_merged_member_out_once_and_moves_their_accounts(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.join("mbr_keep", "keep", at("2026-03-01T01:00:00"))
    feed.join("mbr_gone", "gone", at("2026-03-01T02:00:00"))
    merge = event(
        MembersMerged(
            survivor_id="mbr_keep",
            merged_id="mbr_gone",
            community_id="cmt_1",
            merged_at=at("2026-03-02T01:00:00"),
        )
    )
    feed(merge, merge)  # a replay changes nothing

    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        gone = session.get(Member, "mbr_gone")
        assert community is not None and gone is not None
        assert community.members_total == 1
        assert not gone.present
        owners = {i.speaker: i.member_id for i in session.exec(select(MemberIdentity))}
    assert owners == {"wechat:keep": "mbr_keep", "wechat:gone": "mbr_keep"}


def test_an_older_community_state_arriving_late_changes_nothing(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed.join("mbr_1", "one", at("2026-03-01T01:00:00"))

    def updated(name: str, when: str) -> None:
        feed(
            event(
                CommunityUpdated(
                    community_id="cmt_1",
                    name=name,
                    purpose="interest",
                    timezone="UTC",
                    changed=["name", "timezone"],
                    updated_at=at(when),
                )
            )
        )

    updated("新名", "2026-03-02T00:00:00")
    updated("旧名", "2026-02-01T00:00:00")
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        assert (community.name, community.timezone) == ("新名", "UTC")
        # What the update does not carry is the replica's own: its count stays.
        assert community.members_total == 1
