"""Temporary groups made for an activity: the activity that asked, once per workspace.

Revision ID: 0111
Revises: 0101
"""

import sqlalchemy as sa
from alembic import op

revision = "0111"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chat_group", sa.Column("activity_id", sa.Text))
    # One group per activity's request, however often the request arrives.
    op.create_index(
        "uq_chat_group_activity",
        "chat_group",
        ["workspace_id", "activity_id"],
        unique=True,
        postgresql_where=sa.text("activity_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_chat_group_activity", table_name="chat_group")
    op.drop_column("chat_group", "activity_id")
