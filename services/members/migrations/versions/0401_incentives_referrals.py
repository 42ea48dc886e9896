"""Incentives and referrals: ledger notes and indexes, badges, referrals, referral campaigns.

Revision ID: 0401
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0401"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("points_entry", sa.Column("note", sa.Text))
    op.add_column(
        "points_entry", sa.Column("actor", sa.Text, nullable=False, server_default="system")
    )
    # Leaderboards sum a window of a community's ledger from the index alone.
    op.drop_index("ix_points_entry_community_time", table_name="points_entry")
    op.create_index(
        "ix_points_entry_community_time",
        "points_entry",
        ["community_id", "created_at"],
        postgresql_include=["member_id", "amount"],
    )
    op.create_index(
        "ix_points_entry_member_reason_time",
        "points_entry",
        ["member_id", "reason", "created_at"],
    )
    # The all-time leaderboard reads the top of a community's members by total.
    op.create_index(
        "ix_member_community_points",
        "member",
        ["community_id", sa.text("points DESC"), "id"],
    )

    op.create_table(
        "badge",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column(
            "community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False, index=True
        ),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("rule", JSONB),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("community_id", "name", name="uq_badge_name"),
    )
    op.create_table(
        "badge_award",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("badge_id", sa.Text, sa.ForeignKey("badge.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("awarded_at", TS, nullable=False),
        sa.UniqueConstraint("badge_id", "member_id", name="uq_badge_award_member"),
    )
    op.create_index("ix_badge_award_member", "badge_award", ["member_id", "awarded_at"])

    op.create_table(
        "referral",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False),
        sa.Column("referrer_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("invitee_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("invitee_id", name="uq_referral_invitee"),
    )
    op.create_index("ix_referral_referrer", "referral", ["referrer_id", "id"])
    op.create_index(
        "ix_referral_due", "referral", ["due_at"], postgresql_where=sa.text("state = 'pending'")
    )

    op.create_table(
        "referral_campaign",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column(
            "community_id", sa.Text, sa.ForeignKey("community.id"), nullable=False, index=True
        ),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("invites_required", sa.Integer, nullable=False),
        sa.Column("reward", JSONB, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "referral_campaign_reward",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("community_id", sa.Text, nullable=False),
        sa.Column("campaign_id", sa.Text, sa.ForeignKey("referral_campaign.id"), nullable=False),
        sa.Column("member_id", sa.Text, sa.ForeignKey("member.id"), nullable=False),
        sa.Column("successes", sa.Integer, nullable=False),
        sa.Column("rewarded_at", TS, nullable=False),
        sa.UniqueConstraint("campaign_id", "member_id", name="uq_referral_campaign_reward"),
    )


def downgrade() -> None:
    for table in (
        "referral_campaign_reward",
        "referral_campaign",
        "referral",
        "badge_award",
        "badge",
    ):
        op.drop_table(table)
    op.drop_index("ix_member_community_points", table_name="member")
    op.drop_index("ix_points_entry_member_reason_time", table_name="points_entry")
    op.drop_index("ix_points_entry_community_time", table_name="points_entry")
    op.create_index(
        "ix_points_entry_community_time", "points_entry", ["community_id", "created_at"]
    )
    op.drop_column("points_entry", "actor")
    op.drop_column("points_entry", "note")
