"""Parked events: chat and activity that name a group or community the replicas do not know
yet, kept until it arrives (then folded and deleted) or until the retention expires.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parked_event",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        # What it waits on: a chat group as bots name it, or a community.
        sa.Column("platform", sa.Text),
        sa.Column("group_external_id", sa.Text),
        sa.Column("community_id", sa.Text),
        sa.Column("event", JSONB, nullable=False),
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "(group_external_id IS NOT NULL AND platform IS NOT NULL) "
            "<> (community_id IS NOT NULL)",
            name="ck_parked_event_waits_on_one",
        ),
    )
    op.create_index(
        "ix_parked_event_group",
        "parked_event",
        ["workspace_id", "platform", "group_external_id"],
        postgresql_where=sa.text("group_external_id IS NOT NULL"),
    )
    op.create_index(
        "ix_parked_event_community",
        "parked_event",
        ["community_id"],
        postgresql_where=sa.text("community_id IS NOT NULL"),
    )
    op.create_index("ix_parked_event_parked_at", "parked_event", ["parked_at"])


def downgrade() -> None:
    op.drop_table("parked_event")
