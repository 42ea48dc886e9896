"""Referrals with the K-factor on a hand-computed story."""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.contracts import GroupMemberJoined, ReferralFailed, ReferralSucceeded
from services.metrics.referrals.service import referrals
from tests.integration.metrics.conftest import Feed, at, event
from tests.integration.metrics.stories import the_community


def test_k_factor_is_successes_per_member_at_the_start(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed.group()
    for name in "abcd":
        feed.join(f"mbr_{name}", name, at("2026-03-01T01:00:00"))
    feed.join("mbr_x", "x", at("2026-03-03T01:00:00"), referred_by="mbr_a")
    feed.join("mbr_y", "y", at("2026-03-03T02:00:00"), referred_by="mbr_a")
    decided = [
        ReferralSucceeded(
            referral_id="ref_x",
            referrer_id="mbr_a",
            invitee_id="mbr_x",
            community_id="cmt_1",
            joined_at=at("2026-03-03T01:00:00"),
            points=10,
            decided_at=at("2026-03-05T01:00:00"),
        ),
        ReferralFailed(
            referral_id="ref_y",
            referrer_id="mbr_a",
            invitee_id="mbr_y",
            community_id="cmt_1",
            reason="left_early",
            decided_at=at("2026-03-06T01:00:00"),
        ),
        ReferralSucceeded(
            referral_id="ref_z",
            referrer_id="mbr_b",
            invitee_id="mbr_z",
            community_id="cmt_1",
            joined_at=at("2026-02-20T01:00:00"),
            points=10,
            decided_at=at("2026-03-07T01:00:00"),
        ),
    ]
    feed(*[event(d) for d in decided])
    feed(event(decided[0]))  # the same decision again, under a new event id
    feed(
        event(
            GroupMemberJoined(
                platform="wechat",
                group_external_id="wx_grp_1",
                sender_external_id="x",
                inviter_external_id="a",
                occurred_at=at("2026-03-04T01:00:00"),
            )
        )
    )
    with Session(engine) as session:
        found = referrals(
            session, community=the_community(session), first=date(2026, 3, 2), last=date(2026, 3, 8)
        )
    assert (found.members_at_start, found.referred_joins, found.invited_group_joins) == (4, 2, 1)
    assert (found.successes, found.failures, found.referrers) == (2, 1, 2)
    assert found.failures_by_reason == {"left_early": 1}
    assert (found.invitation_rate, found.conversion, found.k_factor) == (0.5, 1.0, 0.5)
    assert [(r.member_id, r.successes) for r in found.top_referrers] == [
        ("mbr_a", 1),
        ("mbr_b", 1),
    ]
