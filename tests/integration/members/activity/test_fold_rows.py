"""The fold reads its senders as plain rows and writes each member row once a batch, points and
level with the counters: the totals must still equal the ledger, and a member a handler loaded
earlier in the same transaction must read what the fold wrote."""

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.members.activity.folding import fold_messages
from services.members.community.models import Member, MemberIdentity
from tests.integration.conftest import WORKSPACE
from tests.integration.members.activity_support import add_group, message
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def test_points_equal_the_ledger_and_an_earlier_load_reads_the_fold(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    first = [message(group, f"wx_row_{n % 4}", f"第{n}条") for n in range(40)]
    with Session(members.engine) as session, session.begin():
        fold_messages(
            session,
            [
                m.to_event(source="/test", workspace_id=WORKSPACE, community_id=None, subject=None)
                for m in first
            ],
        )
    with Session(members.engine) as session, session.begin():
        # What a per-event handler earlier in the batch's transaction would have loaded.
        held = session.exec(
            select(Member)
            .join(MemberIdentity, col(MemberIdentity.member_id) == Member.id)
            .where(MemberIdentity.external_id == "wx_row_0")
        ).one()
        before = (held.message_count, held.points)
        fold_messages(
            session,
            [
                message(group, "wx_row_0", f"又一条{n}").to_event(
                    source="/test", workspace_id=WORKSPACE, community_id=None, subject=None
                )
                for n in range(3)
            ],
        )
        assert held.message_count == before[0] + 3
        assert held.points > before[1]
    with members.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT m.points, m.message_count, coalesce(sum(p.amount), 0) FROM member m "
                "LEFT JOIN points_entry p ON p.member_id = m.id "
                "WHERE m.community_id = :c GROUP BY m.id"
            ),
            {"c": community["id"]},
        ).all()
    assert len(rows) == 4
    assert all(points == paid > 0 for points, _, paid in rows), rows
    assert sorted(count for _, count, _ in rows) == [10, 10, 10, 13]
