"""Replicas of communities, groups and members; daily rollups per group and community.

The first read model (community_overview, member_presence) is replaced: a read model is
rebuilt from the topics, so its consumer group's offsets are reset with this migration's
deploy (see docs/metrics.md, "Rebuilding").

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


_DAY_COUNTS = (
    "joined",
    "departed",
    "messages",
    "member_messages",
    "operator_messages",
    "negative_messages",
    "replies",
    "speakers",
    "violations",
)


def upgrade() -> None:
    op.drop_table("member_presence")
    op.drop_table("community_overview")
    op.execute("DELETE FROM processed_event")
    op.create_table(
        "community",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        _count("members_total"),
        _at("created_at"),
        _at("updated_at"),
    )
    op.create_table(
        "chat_group",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        _count("members_total"),
        _at("created_at"),
        _at("updated_at"),
        sa.UniqueConstraint("workspace_id", "platform", "external_id"),
    )
    op.create_table(
        "member",
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        _at("stage_since"),
        sa.Column("present", sa.Boolean, nullable=False),
        _at("joined_at"),
        _at("left_at", nullable=True),
        sa.Column("referred_by", sa.Text),
    )
    op.create_index("ix_member_community_joined", "member", ["community_id", "joined_at"])
    op.create_table(
        "member_identity",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("speaker", sa.Text, primary_key=True),
        sa.Column("member_id", sa.Text, nullable=False, index=True),
    )
    op.create_table(
        "group_presence",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("speaker", sa.Text, primary_key=True),
        sa.Column("present", sa.Boolean, nullable=False),
        _at("joined_at"),
    )
    op.create_table(
        "stage_change",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("from_stage", sa.Text, nullable=False),
        sa.Column("to_stage", sa.Text, nullable=False),
        _at("changed_at"),
    )
    op.create_index("ix_stage_change_community_at", "stage_change", ["community_id", "changed_at"])
    op.create_table(
        "group_day",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("members_total", sa.Integer),
        *[_count(c) for c in _DAY_COUNTS],
    )
    op.create_index("ix_group_day_community_day", "group_day", ["community_id", "day"])
    op.create_table(
        "community_day",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("members_total", sa.Integer),
        *[_count(c) for c in _DAY_COUNTS],
        _count("check_ins"),
        _count("attendances"),
    )
    op.create_table(
        "group_speaker_day",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("speaker", sa.Text, primary_key=True),
        sa.Column("community_id", sa.Text, nullable=False),
        _count("messages"),
    )
    op.create_table(
        "community_speaker_day",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("speaker", sa.Text, primary_key=True),
        _count("messages"),
        _count("replies"),
    )
    op.create_index(
        "ix_community_speaker_day_speaker", "community_speaker_day", ["community_id", "speaker"]
    )
    op.create_table(
        "violation_day",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        _count("count"),
    )


def downgrade() -> None:
    for table in (
        "violation_day",
        "community_speaker_day",
        "group_speaker_day",
        "community_day",
        "group_day",
        "stage_change",
        "group_presence",
        "member_identity",
        "member",
        "chat_group",
        "community",
    ):
        op.drop_table(table)
