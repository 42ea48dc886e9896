"""Integrations (bots that push group activity) and the webhook ids they sent.

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
        "integration",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS),
    )
    op.create_table(
        "inbound_delivery",
        sa.Column("integration_id", sa.Text, sa.ForeignKey("integration.id"), primary_key=True),
        sa.Column("webhook_id", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_inbound_delivery_received_at", "inbound_delivery", ["received_at"])


def downgrade() -> None:
    op.drop_table("inbound_delivery")
    op.drop_table("integration")
