"""Activities as the events service announces their plans, for the calendar.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("place", sa.Text),
        sa.Column("online_url", sa.Text),
        sa.Column("group_id", sa.Text),
        sa.Column("source_updated_at", TS, nullable=False),
    )
    op.create_table(
        "activity_session",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("activity_id", sa.Text, nullable=False, index=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    # The calendar asks for one community's sessions in a window.
    op.create_index(
        "ix_activity_session_community_starts", "activity_session", ["community_id", "starts_at"]
    )


def downgrade() -> None:
    op.drop_table("activity_session")
    op.drop_table("activity")
