"""Publications the bot did not say (failed or expired), for the publication-failure alert;
and the indexes by which the chat fold finds a community's operators' accounts at once.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication_failure",
        sa.Column("publication_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("group_id", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_publication_failure_community_at", "publication_failure", ["community_id", "at"]
    )

    # Operators are few in any community: the fold reads all of a batch's communities'
    # operators' accounts instead of looking up every speaker of the batch.
    op.create_index(
        "ix_member_operators",
        "member",
        ["community_id"],
        postgresql_where=sa.text("role IN ('owner', 'admin')"),
    )
    op.create_index("ix_member_identity_member", "member_identity", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_member_identity_member", "member_identity")
    op.drop_index("ix_member_operators", "member")
    op.drop_table("publication_failure")
