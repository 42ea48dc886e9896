"""Content response on a hand-computed story. A publication (an article serving
"information") goes out Mon 30 March 02:10 UTC in grp_1 as message "pub1": in the hours
02:00 and 03:00 members send 5 messages, 3 of them replies to it from 2 members (an
operator's reply makes 4 replies, but no member message or replier). The same
hours of the 4 Mondays before held 2, 0, 2 and 0: a baseline of 1, a lift of 5."""

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import PublicationPublished, PublicationPublishedV2
from services.metrics.content_response.service import content_response, record_publication
from services.metrics.health.score import health
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope
from tests.integration.metrics.conftest import Feed, at, event, message


def test_a_publication_is_measured_against_its_hours_weeks_before(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_op", "op", at("2026-02-01T00:00:00"), role="admin")
    feed(
        message("a", at("2026-03-30T02:20:00"), reply_to="pub1"),
        message("a", at("2026-03-30T02:40:00"), reply_to="pub1"),
        message("b", at("2026-03-30T03:05:00"), reply_to="pub1"),
        message("c", at("2026-03-30T03:30:00")),
        message("c", at("2026-03-30T03:59:59")),
        message("c", at("2026-03-30T04:00:00")),  # the third hour: outside
        message("op", at("2026-03-30T02:15:00"), reply_to="pub1"),  # an operator's: not members'
        message("a", at("2026-03-23T02:30:00")),
        message("b", at("2026-03-23T03:30:00")),
        message("a", at("2026-03-09T02:01:00")),
        message("a", at("2026-03-09T03:01:00")),
    )
    with Session(engine) as session, session.begin():
        for pid, kind, dimension, ext, when in (
            ("pub_1", "article", "information", "pub1", "2026-03-30T02:10:00"),
            ("pub_2", "news", None, None, "2026-03-31T02:00:00"),
        ):
            record_publication(
                session,
                workspace_id="ws_metrics",
                publication_id=pid,
                community_id="cmt_1",
                group_id="grp_1",
                content_item_id=f"cnt_{pid}",
                content_kind=kind,
                value_dimension=dimension,
                external_message_id=ext,
                published_at=at(when),
            )
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        responses, by_kind, by_dimension, mix = content_response(
            session, community=community, first=date(2026, 3, 30), last=date(2026, 3, 31)
        )
    first, second = responses
    assert (first.replies, first.repliers, first.messages_2h) == (4, 2, 5)
    assert (first.baseline_2h, first.lift) == (1.0, 5.0)
    assert (second.replies, second.messages_2h, second.baseline_2h, second.lift) == (
        0,
        0,
        0.0,
        None,
    )
    assert [(g.key, g.publications, g.mean_replies, g.mean_lift) for g in by_kind] == [
        ("article", 1, 4.0, 5.0),
        ("news", 1, 0.0, None),
    ]
    assert [g.key for g in by_dimension] == ["information", "unknown"]
    assert mix == {"information": 0.5, "unknown": 0.5}
    with Session(engine) as session:
        scored = health(session, scope=Scope(community, "grp_1"), today=date(2026, 4, 1))
    (part,) = [c for c in scored.components if c.name == "content_response"]
    assert (part.value, part.score) == (5.0, 1.0)
    assert part.counts == {"publications_14d": 2, "with_a_baseline": 1}


def _published(
    version: type[PublicationPublished], publication_id: str, **extra: str
) -> CloudEvent:
    return event(
        version(
            publication_id=publication_id,
            schedule_id="sch_1",
            community_id="cmt_1",
            content_item_id=f"cnt_{publication_id}",
            group_id="grp_1",
            member_id=None,
            platform="wechat",
            external_id="wx_grp_1",
            external_message_id=f"m_{publication_id}",
            published_at=at("2026-03-30T02:10:00"),
            **extra,
        )
    )


def test_v2_publications_count_by_their_kind_and_dimension_and_v1_ones_as_unknown(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    v2 = _published(
        PublicationPublishedV2, "pub_a", content_kind="article", value_dimension="resources"
    )
    v1 = _published(PublicationPublished, "pub_b")  # sent before v2, still on the topic
    feed(v2, v1, v2)  # the same publication twice is one publication
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        responses, by_kind, by_dimension, mix = content_response(
            session, community=community, first=date(2026, 3, 30), last=date(2026, 3, 30)
        )
    assert sorted((r.content_kind or "", r.value_dimension or "") for r in responses) == [
        ("", ""),
        ("article", "resources"),
    ]
    assert [(g.key, g.publications) for g in by_kind] == [("article", 1), ("unknown", 1)]
    assert [g.key for g in by_dimension] == ["resources", "unknown"]
    assert mix == {"resources": 0.5, "unknown": 0.5}
