"""admin sessions revoked at logout; failed admin-token attempts

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_session",
        sa.Column("id_sha256", sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_fingerprint", sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    with op.batch_alter_table("admin_session", schema=None) as batch_op:
        batch_op.create_index("ix_admin_session_expires_at", ["expires_at"], unique=False)
    op.create_table(
        "admin_auth_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sqltypes.AutoString(length=100), nullable=False),
        sa.Column("at", sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_auth_failure", schema=None) as batch_op:
        batch_op.create_index("ix_admin_auth_failure_client", ["client"], unique=False)
        batch_op.create_index("ix_admin_auth_failure_at", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("admin_auth_failure")
    op.drop_table("admin_session")
