"""The members fold costs a fixed number of statements per batch, however many messages,
new senders, violations and level rises the batch holds: a statement per message or per
violation is what kept chat folding at a few hundred messages a CPU-second (issue 10)."""

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.members.activity.folding import fold_messages
from tests.integration.conftest import WORKSPACE
from tests.integration.members.activity_support import add_group, message
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def _batch(group: dict[str, Any], size: int, tag: str) -> list[CloudEvent]:
    """Every fifth message an ad from one new sender (the ladder climbs to its end), the rest
    from three new senders who each rise a level, and a new sender every tenth message."""
    sent = []
    for n in range(size):
        if n % 5 == 4:
            sent.append(message(group, f"wx_{tag}_ad", f"代购找我，加我微信 deal{tag}{n:04d}x"))
        elif n % 10 == 0:
            sent.append(message(group, f"wx_{tag}_new_{n}", f"第{n}条"))
        else:
            sent.append(message(group, f"wx_{tag}_{n % 3}", f"第{n}条"))
    return [
        m.to_event(source="/test", workspace_id=WORKSPACE, community_id=None, subject=None)
        for m in sent
    ]


def _fold(engine: sa.Engine, events: list[CloudEvent]) -> int:
    statements = [0]

    def count(*_: object, **__: object) -> None:
        statements[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as session, session.begin():
            fold_messages(session, events)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return statements[0]


def _scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def test_a_batch_costs_the_same_statements_whatever_its_size(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    small = _fold(members.engine, _batch(group, 20, "s"))
    large = _fold(members.engine, _batch(group, 200, "l"))
    assert large == small, (small, large)

    engine, cid = members.engine, community["id"]
    assert (
        _scalar(engine, "SELECT count(*) FROM activity_message WHERE community_id = :c", c=cid)
        == 220
    )
    # The ladder climbed in message order for each advertiser: warn, mute, remove, then ban.
    with engine.connect() as conn:
        steps = conn.execute(
            sa.text(
                "SELECT i.external_id, c.strikes_before, c.action FROM moderation_case c "
                "JOIN member_identity i ON i.member_id = c.member_id "
                "WHERE c.community_id = :c ORDER BY i.external_id, c.strikes_before"
            ),
            {"c": cid},
        ).all()
    small_steps = [(s, a) for who, s, a in steps if who == "wx_s_ad"]
    assert small_steps == [(0, "warn"), (1, "mute"), (2, "remove"), (3, "ban")]
    large_steps = [(s, a) for who, s, a in steps if who == "wx_l_ad"]
    assert large_steps[:4] == small_steps
    assert large_steps[4:] == [(n, "ban") for n in range(4, 40)]
    with engine.connect() as conn:
        statuses: dict[str, str] = dict(
            conn.execute(
                sa.text(
                    "SELECT i.external_id, m.status FROM member m "
                    "JOIN member_identity i ON i.member_id = m.id WHERE m.community_id = :c"
                ),
                {"c": cid},
            ).all()
        )
    assert statuses["wx_s_ad"] == statuses["wx_l_ad"] == "banned"
    # Each of the regular senders earned a point a message up to the daily cap, and rose.
    assert (
        _scalar(
            engine,
            "SELECT min(m.level) FROM member m JOIN member_identity i ON i.member_id = m.id "
            "WHERE i.external_id LIKE 'wx_l\\__' AND m.community_id = :c",
            c=cid,
        )
        >= 3
    )
