"""Content response: publications, messages per group hour, replies per replied message.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication",
        sa.Column("publication_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("group_id", sa.Text, nullable=False),
        sa.Column("content_item_id", sa.Text, nullable=False),
        sa.Column("content_kind", sa.Text),
        sa.Column("value_dimension", sa.Text),
        sa.Column("external_message_id", sa.Text),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_publication_community_published", "publication", ["community_id", "published_at"]
    )
    op.create_table(
        "group_hour",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("member_messages", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "reply_target",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("message_external_id", sa.Text, primary_key=True),
        sa.Column("replies", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "reply_target_speaker",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("message_external_id", sa.Text, primary_key=True),
        sa.Column("speaker", sa.Text, primary_key=True),
    )


def downgrade() -> None:
    for table in ("reply_target_speaker", "reply_target", "group_hour", "publication"):
        op.drop_table(table)
