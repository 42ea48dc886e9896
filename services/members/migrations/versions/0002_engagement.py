"""Lifecycle stage history, the points ledger and daily activity.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_stage_change",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False, index=True),
        sa.Column("from_stage", sa.Text, nullable=False),
        sa.Column("to_stage", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "points_entry",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False, index=True),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "reason", "source_id", name="uq_points_entry_source"),
    )
    op.create_index(
        "ix_points_entry_community_time", "points_entry", ["community_id", "created_at"]
    )
    op.create_table(
        "member_activity_day",
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_member_activity_day_community_day", "member_activity_day", ["community_id", "day"]
    )


def downgrade() -> None:
    for table in ("member_activity_day", "points_entry", "member_stage_change"):
        op.drop_table(table)
