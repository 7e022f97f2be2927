"""check runs: batches of sources dispatched to Scrapyd nodes

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("node", sqltypes.AutoString(length=500), nullable=False),
        sa.Column("job", sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("events_after", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqltypes.UTCDateTime(), nullable=True),
        sa.Column("results", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("check_run", schema=None) as batch_op:
        batch_op.create_index("ix_check_run_status", ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("check_run")
