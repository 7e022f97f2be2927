"""[[channels]]: the configured channels and their outbox

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqltypes.AutoString(length=200), nullable=False),
        sa.Column("scheme", sqltypes.AutoString(length=40), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("expectations", sa.Text(), nullable=False),
        sa.Column("min_severity", sqltypes.AutoString(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.create_index("ix_channel_name", ["name"], unique=True)
    op.create_table(
        "channel_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("status", sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", sqltypes.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sqltypes.AutoString(length=300), nullable=True),
        sa.Column("sent_at", sqltypes.UTCDateTime(), nullable=True),
        sa.Column("message_id", sqltypes.AutoString(length=300), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "channel_id"),
    )
    with op.batch_alter_table("channel_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_channel_delivery_event_id", ["event_id"], unique=False)
        batch_op.create_index("ix_channel_delivery_channel_id", ["channel_id"], unique=False)
        batch_op.create_index("ix_channel_delivery_status", ["status"], unique=False)
        batch_op.create_index("ix_channel_delivery_next_attempt_at", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("channel_delivery")
    op.drop_table("channel")
