"""Inbound deliveries remember a digest of their body, so a webhook id sent again with another
body is refused instead of being taken for a retry (the new body would be dropped unseen).

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
    # Null for deliveries received before this revision: their retries are accepted as before.
    op.add_column("inbound_delivery", sa.Column("body_digest", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("inbound_delivery", "body_digest")
