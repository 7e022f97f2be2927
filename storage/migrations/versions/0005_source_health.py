"""source health: admins' notices and whether a failing source was reported

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("health_alerted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "admin_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqltypes.AutoString(length=320), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", sqltypes.UTCDateTime(), nullable=True),
        sa.Column("sent_at", sqltypes.UTCDateTime(), nullable=True),
        sa.Column("message_id", sqltypes.AutoString(length=300), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_notice", schema=None) as batch_op:
        batch_op.create_index("ix_admin_notice_source_id", ["source_id"], unique=False)
        batch_op.create_index("ix_admin_notice_status", ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("admin_notice")
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("health_alerted")
