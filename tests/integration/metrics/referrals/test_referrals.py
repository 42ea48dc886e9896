"""Referrals with the K-factor, top contributors with KOL candidates, and groups ranked by
health, on hand-computed stories."""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.contracts import GroupMemberJoined, ReferralFailed, ReferralSucceeded
from services.common.http.pagination import PageParams
from services.metrics.contributors.service import contributors
from services.metrics.health.service import rank_groups, refresh_scores
from services.metrics.referrals.service import referrals
from services.metrics.replica.models import Community
from tests.integration.metrics.conftest import Feed, at, event, message


def _community(session: Session) -> Community:
    community = session.get(Community, "cmt_1")
    assert community is not None
    return community


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
            session, community=_community(session), first=date(2026, 3, 2), last=date(2026, 3, 8)
        )
    assert (found.members_at_start, found.referred_joins, found.invited_group_joins) == (4, 2, 1)
    assert (found.successes, found.failures, found.referrers) == (2, 1, 2)
    assert found.failures_by_reason == {"left_early": 1}
    assert (found.invitation_rate, found.conversion, found.k_factor) == (0.5, 1.0, 0.5)
    assert [(r.member_id, r.successes) for r in found.top_referrers] == [
        ("mbr_a", 1),
        ("mbr_b", 1),
    ]


def test_top_contributors_page_by_messages_and_mark_kol_candidates(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_op", "op", at("2026-03-01T00:00:00"), role="admin")
    feed.join("mbr_a", "a", at("2026-03-01T00:00:00"))
    feed(*[message("a", at(f"2026-03-0{d}T0{h}:00:00")) for d in (1, 2) for h in range(6)])
    feed(*[message("b", at("2026-03-03T01:00:00"), reply_to="m") for _ in range(3)])
    feed(message("op", at("2026-03-03T01:00:00")))
    first, last = date(2026, 3, 1), date(2026, 3, 4)
    with Session(engine) as session:
        community = _community(session)
        page, cursor = contributors(
            session,
            community=community,
            first=first,
            last=last,
            paging=PageParams(limit=1, cursor=None),
        )
        rest, end = contributors(
            session,
            community=community,
            first=first,
            last=last,
            paging=PageParams(limit=5, cursor=cursor),
        )
    (a,) = page
    assert (a.speaker, a.member_id, a.messages, a.active_days, a.kol_candidate) == (
        "wechat:a",
        "mbr_a",
        12,
        2,
        True,
    )
    assert [(c.speaker, c.messages, c.replies, c.kol_candidate) for c in rest] == [
        ("wechat:b", 3, 3, False)
    ]
    assert end is None


def test_groups_are_ranked_by_their_latest_health(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed.group("grp_1")
    feed.group("grp_2")
    for name in "ab":
        feed.join(f"mbr_{name}", name, at("2026-03-01T00:00:00"))
    feed(*[message("a", at(f"2026-03-{d:02d}T02:00:00")) for d in range(10, 31)])
    with Session(engine) as session, session.begin():
        assert refresh_scores(session, at("2026-03-31T04:00:00")) == 3
    with Session(engine) as session:
        ranked, cursor = rank_groups(
            session,
            community=_community(session),
            worst_first=True,
            paging=PageParams(limit=10, cursor=None),
        )
    assert [g.group_id for g in ranked] == ["grp_2", "grp_1"]
    assert ranked[0].score < ranked[1].score and cursor is None
    assert ranked[0].reasons[0] == "no member spoke in the last 6 weeks"
