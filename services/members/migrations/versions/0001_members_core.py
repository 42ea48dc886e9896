"""Communities with settings, members with profiles, identities, status history; kit tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.common.migrations import create_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_kit_tables()
    op.create_table(
        "community",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("settings", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "member",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("city", sa.Text),
        sa.Column("company", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("intro", sa.Text),
        sa.Column("birthday", sa.Date),
        sa.Column("attributes", JSONB, nullable=False, server_default="{}"),
        sa.Column("invite_code", sa.Text, nullable=False),
        sa.Column("referred_by", sa.Text),
        sa.Column("entry_answers", JSONB),
        sa.Column("payment_reference", sa.Text),
        sa.Column("lead_source", sa.Text),
        sa.Column("message_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_active_at", TS),
        sa.Column("points", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("level", sa.Integer, nullable=False, server_default="1"),
        sa.Column("muted_until", TS),
        sa.Column("merged_into", sa.Text),
        sa.Column("onboarded_at", TS),
        sa.Column("joined_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "invite_code", name="uq_member_invite_code"),
    )
    op.create_index("ix_member_community_id", "member", ["community_id", "id"])
    op.create_index(
        "ix_member_referred_by",
        "member",
        ["referred_by"],
        postgresql_where=sa.text("referred_by IS NOT NULL"),
    )
    op.create_index(
        "ix_member_muted_until",
        "member",
        ["muted_until"],
        postgresql_where=sa.text("status = 'muted'"),
    )
    op.create_table(
        "member_identity",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False, index=True),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.UniqueConstraint("community_id", "platform", "external_id"),
    )
    op.create_table(
        "member_transition",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False, index=True),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("until", TS),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("member_transition", "member_identity", "member", "community"):
        op.drop_table(table)
