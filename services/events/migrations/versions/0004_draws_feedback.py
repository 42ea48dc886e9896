"""Lottery draws with their reproducible record; feedback on activities.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "draw",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text, sa.ForeignKey("activity.id"), nullable=False, index=True),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("seed", sa.Text, nullable=False),
        sa.Column("prizes", JSONB, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("eligible", JSONB, nullable=False),
        sa.Column("winners", JSONB, nullable=False),
        sa.Column("local_day", sa.Date, nullable=False),
        sa.Column("drawn_at", TS, nullable=False),
    )
    op.create_index("ix_draw_community_day", "draw", ["community_id", "local_day"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text, sa.ForeignKey("activity.id"), nullable=False, index=True),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("rating", sa.Integer),
        sa.Column("nps", sa.Integer),
        sa.Column("comment", sa.Text),
        sa.Column("given_at", TS, nullable=False),
        sa.UniqueConstraint("activity_id", "member_id"),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("draw")
