"""The replica of members' communities, groups and members; activities, their sessions and
registrations with the arrival sequence of the waiting list.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "community",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "chat_group",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("dissolve_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index(
        "ix_chat_group_platform_id", "chat_group", ["workspace_id", "platform", "external_id"]
    )
    op.create_table(
        "member",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False, server_default="member"),
        sa.Column("level", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("merged_into", sa.Text),
        sa.Column("joined_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "member_identity",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("external_id", sa.Text, primary_key=True),
        sa.Column("member_id", sa.Text, nullable=False, index=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("value_dimension", sa.Text),
        sa.Column("goal", sa.Text, nullable=False),
        sa.Column("online_url", sa.Text),
        sa.Column("place", sa.Text),
        sa.Column("capacity", sa.Integer),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("schedule", JSONB),
        sa.Column("registration_opens_at", TS),
        sa.Column("registration_closes_at", TS),
        sa.Column("offer_hours", sa.Integer),
        sa.Column("walk_ins", sa.Boolean, nullable=False),
        sa.Column("kpi_targets", JSONB, nullable=False),
        sa.Column("budget", JSONB, nullable=False),
        sa.Column("hosts", JSONB, nullable=False),
        sa.Column("eligibility", JSONB, nullable=False),
        sa.Column("temporary_group", JSONB),
        sa.Column("challenge", JSONB),
        sa.Column("group_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("published_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "activity_session",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text, sa.ForeignKey("activity.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("capacity", sa.Integer),
        sa.Column("taken", sa.Integer, nullable=False),
        sa.Column("reminded_24h", sa.Boolean, nullable=False),
        sa.Column("reminded_1h", sa.Boolean, nullable=False),
        sa.Column("closed_at", TS),
        sa.UniqueConstraint("activity_id", "position"),
        # The last guard of capacity: a bug that overbooks fails instead of overbooking.
        sa.CheckConstraint(
            "taken >= 0 AND (capacity IS NULL OR taken <= capacity)", name="ck_taken"
        ),
    )
    op.create_index(
        "ix_session_due",
        "activity_session",
        ["starts_at"],
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    # Arrival numbers are drawn while the session row is locked: their order is the order
    # in which registrations were decided, which is the order of the waiting list.
    op.execute("CREATE SEQUENCE registration_arrival")
    op.create_table(
        "registration",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text, nullable=False, index=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("activity_session.id"), nullable=False),
        sa.Column("member_id", sa.Text, nullable=False, index=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("arrival", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("confirmed_at", TS),
        sa.Column("offer_expires_at", TS),
        sa.Column("cancelled_at", TS),
        sa.Column("checked_in_at", TS),
        sa.Column("no_show", sa.Boolean, nullable=False),
        sa.UniqueConstraint("session_id", "member_id"),
    )
    op.create_index("ix_registration_queue", "registration", ["session_id", "status", "arrival"])
    op.create_index(
        "ix_registration_offers",
        "registration",
        ["offer_expires_at"],
        postgresql_where=sa.text("status = 'offered'"),
    )


def downgrade() -> None:
    for table in ("registration", "activity_session", "activity", "member_identity", "member"):
        op.drop_table(table)
    op.execute("DROP SEQUENCE registration_arrival")
    op.drop_table("chat_group")
    op.drop_table("community")
