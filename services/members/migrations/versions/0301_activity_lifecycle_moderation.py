"""Messages seen (activity), purchases (lifecycle) and moderation cases.

Revision ID: 0301
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0301"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activity_message",
        sa.Column("group_id", sa.Text, sa.ForeignKey("chat_group.id"), primary_key=True),
        sa.Column("message_external_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
    )
    op.create_index(
        "ix_activity_message_member_time", "activity_message", ["member_id", "occurred_at"]
    )
    op.create_table(
        "member_purchase",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False, index=True),
        sa.Column("amount", sa.Numeric(18, 4), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("purchased_at", TS, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "reference", name="uq_member_purchase_reference"),
        sa.CheckConstraint("amount > 0", name="ck_member_purchase_amount_positive"),
    )
    op.create_table(
        "moderation_case",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("group_id", sa.Text, sa.ForeignKey("chat_group.id"), nullable=False),
        sa.Column("message_external_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("excerpt", sa.Text, nullable=False),
        sa.Column("matches", JSONB, nullable=False),
        sa.Column("strikes_before", sa.Integer, nullable=False),
        sa.Column("ladder_step", sa.Integer, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("mute_until", TS),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("dismissed_at", TS),
        sa.Column("dismissed_by", sa.Text),
        sa.Column("dismiss_reason", sa.Text),
        sa.UniqueConstraint("group_id", "message_external_id", name="uq_moderation_case_message"),
        sa.CheckConstraint(
            "action IN ('warn', 'mute', 'remove', 'ban')", name="ck_moderation_case_action"
        ),
        sa.CheckConstraint("status IN ('counted', 'dismissed')", name="ck_moderation_case_status"),
    )
    # Active strikes of a member; a community's cases in id (= time) order for the list.
    op.create_index(
        "ix_moderation_case_member_time", "moderation_case", ["member_id", "occurred_at"]
    )
    op.create_index("ix_moderation_case_community", "moderation_case", ["community_id", "id"])


def downgrade() -> None:
    for table in ("moderation_case", "member_purchase", "activity_message"):
        op.drop_table(table)
