"""API keys carry scopes; when each was last used; which key a rotation replaced.

Keys made before scopes existed could do everything in their workspace: they get `admin`
(every scope), so nothing that worked stops working.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "api_key",
        sa.Column("scopes", JSONB, nullable=False, server_default=sa.text("""'["admin"]'""")),
    )
    # Only the rows already there take the default; a new key names its scopes.
    op.alter_column("api_key", "scopes", server_default=None)
    op.add_column("api_key", sa.Column("last_used_at", TS))
    op.add_column("api_key", sa.Column("rotated_from", sa.Text, sa.ForeignKey("api_key.id")))
    # The keys API pages a workspace's keys by id.
    op.create_index("ix_api_key_workspace_id_id", "api_key", ["workspace_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_api_key_workspace_id_id", "api_key")
    op.drop_column("api_key", "rotated_from")
    op.drop_column("api_key", "last_used_at")
    op.drop_column("api_key", "scopes")
