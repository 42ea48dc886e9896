"""Rules versions and acknowledgements, onboarding, prune runs, outreach tasks.

Revision ID: 0501
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0501"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rules_version",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("published_by", sa.Text, nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "version", name="uq_rules_version_number"),
    )
    op.create_table(
        "rules_acknowledgement",
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=False),
    )
    op.create_index(
        "ix_rules_acknowledgement_community_version",
        "rules_acknowledgement",
        ["community_id", "version"],
    )
    op.create_table(
        "member_onboarding",
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
    )
    # The chase list: joined long ago, not onboarded, oldest first.
    op.create_index(
        "ix_member_not_onboarded",
        "member",
        ["community_id", "joined_at", "id"],
        postgresql_where=sa.text("onboarded_at IS NULL"),
    )
    op.create_table(
        "prune_run",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("scheduled", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("policy", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column("candidate_count", sa.Integer, nullable=False),
        sa.Column("removed_count", sa.Integer, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS),
    )
    op.create_index("ix_prune_run_community", "prune_run", ["community_id", "id"])
    # A scheduled run happens once per community and period, whatever replica or retry.
    op.create_index(
        "uq_prune_run_scheduled_period",
        "prune_run",
        ["community_id", "period_start", "period_end"],
        unique=True,
        postgresql_where=sa.text("scheduled"),
    )
    op.create_table(
        "prune_candidate",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("run_id", sa.Text, sa.ForeignKey("prune_run.id"), nullable=False),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("participations", sa.Integer, nullable=False),
        sa.Column("missed", sa.Integer),
        sa.Column("outcome", sa.Text, nullable=False),
        # Also the order candidates are paged in.
        sa.UniqueConstraint("run_id", "member_id", name="uq_prune_candidate_member"),
    )
    op.create_table(
        "outreach_account",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("daily_cap", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint(
            "community_id", "platform", "external_id", name="uq_outreach_account_identity"
        ),
    )
    op.create_table(
        "outreach_task",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("account_id", sa.Text, sa.ForeignKey("outreach_account.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False, index=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("issued_at", TS),
        sa.Column("outcome_at", TS),
        sa.UniqueConstraint("account_id", "member_id", name="uq_outreach_task_member"),
    )
    op.create_index("ix_outreach_task_queue", "outreach_task", ["account_id", "status", "id"])
    op.create_index("ix_outreach_task_issued", "outreach_task", ["account_id", "issued_at"])


def downgrade() -> None:
    for table in (
        "outreach_task",
        "outreach_account",
        "prune_candidate",
        "prune_run",
        "member_onboarding",
        "rules_acknowledgement",
        "rules_version",
    ):
        op.drop_table(table)
    op.drop_index("ix_member_not_onboarded", table_name="member")
