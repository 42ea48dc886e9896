"""Bulk ingestion: what was accepted, by identity, so the same item posted again is a duplicate.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_seen",
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("external_id", sa.Text, primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The prune deletes by age.
    op.create_index("ix_ingest_seen_seen_at", "ingest_seen", ["seen_at"])


def downgrade() -> None:
    op.drop_table("ingest_seen")
