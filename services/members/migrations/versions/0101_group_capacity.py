"""Group capacity (群活码): places held for invitees, filling order, dissolving.

Revision ID: 0101
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0101"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("chat_group", sa.Column("dissolved_at", TS))
    # Deferrable: moving a group shifts a run of positions in one UPDATE, checked at its end.
    op.create_unique_constraint(
        "uq_chat_group_position",
        "chat_group",
        ["community_id", "position"],
        deferrable=True,
        initially="IMMEDIATE",
    )
    # The dissolving job looks only at live groups with a time set.
    op.create_index(
        "ix_chat_group_dissolve_due",
        "chat_group",
        ["dissolve_at"],
        postgresql_where=sa.text("state <> 'dissolved' AND dissolve_at IS NOT NULL"),
    )
    op.create_table(
        "group_assignment",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("group_id", sa.Text, sa.ForeignKey("chat_group.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("segment_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS),
    )
    # A member holds at most one place at a time.
    op.create_index(
        "uq_group_assignment_open_member",
        "group_assignment",
        ["member_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    # Counting the places held in a group.
    op.create_index(
        "ix_group_assignment_open_group",
        "group_assignment",
        ["group_id", "expires_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    # The expiry sweep.
    op.create_index(
        "ix_group_assignment_open_expiry",
        "group_assignment",
        ["expires_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    # Listing and the history of one member's places.
    op.create_index("ix_group_assignment_community_id", "group_assignment", ["community_id", "id"])
    op.create_index("ix_group_assignment_member", "group_assignment", ["member_id"])


def downgrade() -> None:
    op.drop_table("group_assignment")
    op.drop_index("ix_chat_group_dissolve_due", table_name="chat_group")
    op.drop_constraint("uq_chat_group_position", "chat_group")
    op.drop_column("chat_group", "dissolved_at")
