"""each source keeps why its last fetch failed, as a reason health decides by

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for errors recorded before reasons were: the next check of the source sets it.
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_failure_reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("last_failure_reason")
