"""Communities, members and their platform identities; the kit's outbox tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

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
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "member",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column(
            "community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False, index=True
        ),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("joined_at", TS, nullable=False),
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


def downgrade() -> None:
    for table in ("member_identity", "member", "community"):
        op.drop_table(table)
