"""blob deltas: a blob may be stored as a delta against a base blob

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no foreign key), so SQLite does not rebuild the large blob table.
    # Existing blobs are full zlib copies: no base, depth 0.
    op.add_column("blob", sa.Column("base_sha256", sqltypes.AutoString(length=64), nullable=True))
    op.add_column("blob", sa.Column("depth", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # Deltas cannot be read without these columns: refuse rather than lose them.
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT count(*) FROM blob WHERE base_sha256 IS NOT NULL")).scalar():
        raise RuntimeError("blobs stored as deltas exist; they cannot be kept without the base_sha256 column")
    with op.batch_alter_table("blob", schema=None) as batch_op:
        batch_op.drop_column("depth")
        batch_op.drop_column("base_sha256")
