"""redlines kept once computed, by version pair

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: redlines of versions stored before fill it as they are viewed.
    op.create_table(
        "redline_cache",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("document.id"), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("revision", sqltypes.AutoString(length=20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("document_id", "from_version", "to_version", "revision"),
    )
    op.create_index("ix_redline_cache_document_id", "redline_cache", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_redline_cache_document_id", table_name="redline_cache")
    op.drop_table("redline_cache")
