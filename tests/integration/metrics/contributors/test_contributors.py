"""Top contributors paged by messages, with KOL candidates, on a hand-computed story."""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.http.pagination import PageParams
from services.metrics.contributors.service import contributors
from tests.integration.metrics.conftest import Feed, at, message
from tests.integration.metrics.stories import the_community


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
        community = the_community(session)
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
