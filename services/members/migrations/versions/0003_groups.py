"""Chat groups and group membership.

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
        "chat_group",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column(
            "community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False, index=True
        ),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("dissolve_at", TS),
        sa.Column("segment_id", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint(
            "workspace_id", "platform", "external_id", name="uq_chat_group_platform_id"
        ),
    )
    op.create_table(
        "group_membership",
        sa.Column("group_id", sa.Text, sa.ForeignKey("chat_group.id"), primary_key=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), primary_key=True, index=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("left_at", TS),
    )


def downgrade() -> None:
    op.drop_table("group_membership")
    op.drop_table("chat_group")
