"""The kit's outbox, processed-event and idempotency tables.

Revision ID: 0001
Revises:
"""

from services.common.migrations import create_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()


def downgrade() -> None:
    raise RuntimeError("the first revision is not downgraded")
