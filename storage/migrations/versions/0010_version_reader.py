"""each version names the reader that turned its bytes into content

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Versions stored before this column were read by the first reader.
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reader", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.drop_column("reader")
