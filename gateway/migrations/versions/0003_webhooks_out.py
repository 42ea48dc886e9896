"""Outbound webhooks: endpoints, the per-endpoint message queue, and the attempt log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("event_types", JSONB, nullable=False),
        sa.Column("community_ids", JSONB),
        sa.Column("rate_limit_per_second", sa.Float),
        sa.Column("ordered", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text),
        sa.Column("previous_secret_expires_at", TS),
        sa.Column("integration_id", sa.Text, sa.ForeignKey("integration.id")),
        sa.Column("failing_since", TS),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("disabled_at", TS),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "webhook_message",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column(
            "endpoint_id",
            sa.Text,
            sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text),
        sa.Column("ordering_key", sa.Text, nullable=False),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("leased_until", TS),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        # A Kafka redelivery of an event queues nothing new.
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_message_event"),
    )
    # The queue heads: the lowest pending seq of each (endpoint, ordering key).
    op.create_index(
        "ix_webhook_message_pending",
        "webhook_message",
        ["endpoint_id", "ordering_key", "seq"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_webhook_message_endpoint_id", "webhook_message", ["endpoint_id", "id"])
    op.create_index(
        "ix_webhook_message_finished",
        "webhook_message",
        ["finished_at"],
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "message_id",
            sa.Text,
            sa.ForeignKey("webhook_message.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("endpoint_id", sa.Text, nullable=False),
        sa.Column("attempted_at", TS, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("response_excerpt", sa.Text, nullable=False, server_default=""),
        sa.Column("error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempt")
    op.drop_table("webhook_message")
    op.drop_table("webhook_endpoint")
