"""Health scores, alerts with their thresholds, weekly reports, referrals.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_score",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("band", sa.Text, nullable=False),
        sa.Column("components", JSONB, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_health_score_rank", "health_score", ["community_id", "score", "group_id"])
    op.create_table(
        "alert",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("group_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("clear_checks", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_alert_community_opened", "alert", ["community_id", "opened_at"])
    # Opens once: one open alert per group (or community) and kind.
    op.create_index(
        "ux_alert_open",
        "alert",
        ["community_id", "group_id", "kind"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "alert_thresholds",
        sa.Column("community_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("overrides", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    for column in (
        "referred_joins",
        "invited_group_joins",
        "referral_successes",
        "referral_failures",
    ):
        op.add_column(
            "community_day",
            sa.Column(column, sa.Integer, nullable=False, server_default="0"),
        )
    op.create_table(
        "referral",
        sa.Column("referral_id", sa.Text, primary_key=True),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("referrer_id", sa.Text, nullable=False),
        sa.Column("invitee_id", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_referral_community_decided", "referral", ["community_id", "decided_at"])
    op.create_table(
        "weekly_report",
        sa.Column("report_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("week_start", sa.Date, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("community_id", "week_start"),
    )


def downgrade() -> None:
    op.drop_table("weekly_report")
    op.drop_table("referral")
    for column in (
        "referred_joins",
        "invited_group_joins",
        "referral_successes",
        "referral_failures",
    ):
        op.drop_column("community_day", column)
    op.drop_table("alert_thresholds")
    op.drop_table("alert")
    op.drop_table("health_score")
