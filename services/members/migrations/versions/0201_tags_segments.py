"""Tags, members' tags, saved segments, and the indexes that keep segments fast.

Revision ID: 0201
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0201"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# Segments select active and muted members unless told otherwise; indexing only those keeps
# the indexes small and lets removed, banned and merged records fall out of them.
SELECTABLE = sa.text("status IN ('active', 'muted')")

# (name, columns, covered): each leads with the community, then a column whose rule can be
# selective. Broad segments ("inactive for 30 days", "everyone") read most of the community
# however they are indexed; the last-active index covers every column a rule reads, so they
# are answered from it (an index-only scan) instead of from the much wider member rows.
COVERED = [
    "id",
    "workspace_id",
    "status",
    "stage",
    "role",
    "level",
    "points",
    "joined_at",
    "created_at",
    "tag_ids",
]
SEGMENT_INDEXES: list[tuple[str, list[str], list[str]]] = [
    ("ix_member_segment_joined", ["community_id", "joined_at"], []),
    ("ix_member_segment_last_active", ["community_id", "last_active_at"], COVERED),
    ("ix_member_segment_level", ["community_id", "level"], []),
    ("ix_member_segment_stage", ["community_id", "stage"], []),
    ("ix_member_segment_role", ["community_id", "role"], []),
]


def upgrade() -> None:
    op.create_table(
        "tag",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "name", name="uq_tag_community_name"),
    )
    op.create_table(
        "member_tag",
        sa.Column("tag_id", sa.Text, sa.ForeignKey("tag.id"), primary_key=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("tagged_by", sa.Text, nullable=False),
        sa.Column("tagged_at", TS, nullable=False),
    )
    op.create_index("ix_member_tag_member", "member_tag", ["member_id", "tag_id"])
    op.create_table(
        "segment",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "name", name="uq_segment_community_name"),
    )
    # A sorted copy of the member's tag ids (tags.py keeps it equal to member_tag): a tag rule
    # on a broad segment becomes an array test on the row rather than a join.
    op.add_column(
        "member", sa.Column("tag_ids", ARRAY(sa.Text), nullable=False, server_default="{}")
    )
    for name, columns, covered in SEGMENT_INDEXES:
        op.create_index(
            name, "member", columns, postgresql_where=SELECTABLE, postgresql_include=covered
        )


def downgrade() -> None:
    for name, _, _ in SEGMENT_INDEXES:
        op.drop_index(name, "member")
    op.drop_column("member", "tag_ids")
    for table in ("segment", "member_tag", "tag"):
        op.drop_table(table)
