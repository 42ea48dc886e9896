"""The replica of communities, groups and member identities; content and its revisions;
schedules, handled occurrences, publications, submissions and SOP playbooks.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

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
        sa.Column("source_updated_at", TS, nullable=False),
        sa.Column("replicated_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "chat_group",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("source_updated_at", TS, nullable=False),
        sa.Column("dissolved_at", TS),
    )
    op.create_table(
        "member_identity",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("external_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("member_id", sa.Text, nullable=False, index=True),
    )
    op.create_table(
        "content_item",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value_dimension", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("media", JSONB, nullable=False),
        sa.Column("tags", JSONB, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("author_member_id", sa.Text),
        sa.Column("submission_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("reviewer", sa.Text),
        sa.Column("review_comment", sa.Text),
        sa.Column("reviewed_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # The queue's question: the oldest approved item of a kind in a community.
    op.create_index(
        "ix_content_item_queue",
        "content_item",
        ["community_id", "kind", "reviewed_at", "id"],
        postgresql_where=sa.text("status = 'approved'"),
    )
    op.create_table(
        "content_revision",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("item_id", sa.Text, nullable=False, index=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value_dimension", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("media", JSONB, nullable=False),
        sa.Column("tags", JSONB, nullable=False),
        sa.Column("reviewer", sa.Text),
        sa.Column("reviewed_at", TS),
        sa.Column("replaced_at", TS, nullable=False),
        sa.Column("replaced_by", sa.Text, nullable=False),
        sa.UniqueConstraint("item_id", "revision"),
    )
    op.create_table(
        "schedule",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("content_item_id", sa.Text),
        sa.Column("queue_kind", sa.Text),
        sa.Column("target", JSONB, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("rrule", sa.Text),
        sa.Column("exdates", JSONB, nullable=False),
        sa.Column("quiet_start", sa.Time),
        sa.Column("quiet_end", sa.Time),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("next_due_at", TS),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # The dispatcher's question, asked every second: which active schedules are due.
    op.create_index(
        "ix_schedule_due",
        "schedule",
        ["next_due_at"],
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "occurrence",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("schedule_id", sa.Text, nullable=False),
        sa.Column("occurs_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("content_item_id", sa.Text),
        sa.Column("publications", sa.Integer, nullable=False),
        sa.Column("handled_at", TS, nullable=False),
        sa.UniqueConstraint("schedule_id", "occurs_at"),
    )
    op.create_table(
        "publication",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("schedule_id", sa.Text),
        sa.Column("playbook_run_id", sa.Text),
        sa.Column("occurs_at", TS, nullable=False),
        sa.Column("target_key", sa.Text, nullable=False),
        sa.Column("group_id", sa.Text),
        sa.Column("member_id", sa.Text),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("content_item_id", sa.Text, nullable=False),
        sa.Column("content_revision", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("media", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("dispatched_at", TS),
        sa.Column("result_at", TS),
        sa.Column("external_message_id", sa.Text),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("schedule_id", "occurs_at", "target_key"),
        sa.UniqueConstraint("playbook_run_id", "target_key"),
    )
    op.create_table(
        "submission",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("member_id", sa.Text),
        sa.Column("platform", sa.Text),
        sa.Column("sender_external_id", sa.Text),
        sa.Column("sender_display_name", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("media", JSONB, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("reviewer", sa.Text),
        sa.Column("reviewed_at", TS),
        sa.Column("content_item_id", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "playbook",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("anchor", sa.Text, nullable=False),
        sa.Column("group_ids", JSONB, nullable=False),
        sa.Column("steps", JSONB, nullable=False),
        sa.Column("end_actions", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "playbook_run",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False, index=True),
        sa.Column("community_id", sa.Text, nullable=False, index=True),
        sa.Column("playbook_id", sa.Text, nullable=False),
        sa.Column("anchor_key", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, index=True),
        sa.Column("group_id", sa.Text, index=True),
        sa.Column("platform", sa.Text),
        sa.Column("external_id", sa.Text),
        sa.Column("anchored_at", TS, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("ended_at", TS),
        sa.UniqueConstraint("playbook_id", "anchor_key"),
    )
    op.create_table(
        "playbook_step",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("publication_id", sa.Text),
        sa.Column("handled_at", TS),
    )
    # The sender's question: pending steps that are due.
    op.create_index(
        "ix_playbook_step_due",
        "playbook_step",
        ["due_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_publication_schedule", "publication", ["schedule_id", "id"])
    # The expiry job's question: dispatched publications still waiting for a result.
    op.create_index(
        "ix_publication_waiting",
        "publication",
        ["dispatched_at"],
        postgresql_where=sa.text("status = 'dispatched'"),
    )


def downgrade() -> None:
    for table in (
        "playbook_step",
        "playbook_run",
        "playbook",
        "submission",
        "publication",
        "occurrence",
        "schedule",
        "content_revision",
        "content_item",
        "member_identity",
        "chat_group",
        "community",
    ):
        op.drop_table(table)
