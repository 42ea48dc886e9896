"""Daily check-in challenges: participants and their check-ins by local day.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "challenge_participant",
        sa.Column("challenge_id", sa.Text, sa.ForeignKey("activity.id"), primary_key=True),
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("streak", sa.Integer, nullable=False),
        sa.Column("best_streak", sa.Integer, nullable=False),
        sa.Column("last_day", sa.Date),
        sa.Column("makeups_used", sa.Integer, nullable=False),
        sa.Column("tiers_reached", ARRAY(sa.Text), nullable=False),
        sa.Column("completed_at", TS),
    )
    op.create_index(
        "ix_challenge_leaderboard",
        "challenge_participant",
        ["challenge_id", sa.text("days DESC"), sa.text("streak DESC"), "member_id"],
    )
    op.create_table(
        "challenge_checkin",
        sa.Column("challenge_id", sa.Text, primary_key=True),
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("link", sa.Text),
        sa.Column("makeup", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("challenge_checkin")
    op.drop_table("challenge_participant")
