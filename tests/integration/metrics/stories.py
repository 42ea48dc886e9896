"""Hand-computed stories and the readers that tests in more than one metrics folder share."""

from datetime import date, datetime

from sqlmodel import Session

from services.common.contracts import MemberStageChanged
from services.metrics.replica.models import Community
from tests.integration.metrics.conftest import Feed, at, event, message


def day_at(d: date, hour: int = 2) -> datetime:
    """`hour` o'clock UTC on the day `d`."""
    return at(f"{d.isoformat()}T{hour:02d}:00:00")


def the_community(session: Session) -> Community:
    """The one community of a story, cmt_1."""
    community = session.get(Community, "cmt_1")
    assert community is not None
    return community


def three_members_join_and_speak(feed: Feed) -> None:
    """a joins Mon 2 March, b Tue 3 March (cohort of the week of 2 March); c joins Mon 9 March.
    a speaks in the weeks of 9 and 16 March, b in the week of 9 March, c in those of 16 and 23.
    a moves on to communicating on 4 March and to active on 9 March, b to communicating on 5
    March."""
    feed.community()
    feed.group()
    feed.join("mbr_a", "a", at("2026-03-02T01:00:00"))
    feed.join("mbr_b", "b", at("2026-03-03T01:00:00"))
    feed.join("mbr_c", "c", at("2026-03-09T01:00:00"))
    feed(
        message("a", at("2026-03-10T02:00:00")),
        message("a", at("2026-03-17T02:00:00")),
        message("b", at("2026-03-10T03:00:00")),
        message("c", at("2026-03-16T02:00:00")),
        message("c", at("2026-03-23T02:00:00")),
    )
    for member, from_stage, to_stage, when in (
        ("mbr_a", "joined", "communicating", "2026-03-04T01:00:00"),
        ("mbr_a", "communicating", "active", "2026-03-09T01:00:00"),
        ("mbr_b", "joined", "communicating", "2026-03-05T01:00:00"),
    ):
        feed(
            event(
                MemberStageChanged(
                    member_id=member,
                    community_id="cmt_1",
                    from_stage=from_stage,
                    to_stage=to_stage,
                    reason="first message",
                    actor="system",
                    changed_at=at(when),
                )
            )
        )
