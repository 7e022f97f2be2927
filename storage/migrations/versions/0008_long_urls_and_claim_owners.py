"""long URLs in TEXT columns; outbox claims name their owner

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

URL_COLUMNS = (("document", "url"), ("version", "url"), ("version", "final_url"))
OUTBOXES = ("delivery", "admin_notice")


def upgrade() -> None:
    # SQLite keeps any length in a VARCHAR column already; rebuilding `document` (which
    # `version` and `event` reference) to restate the type would gain nothing there.
    if op.get_bind().dialect.name != "sqlite":
        for table, column in URL_COLUMNS:
            op.alter_column(
                table, column, type_=sa.Text(), existing_type=sa.String(length=2000), existing_nullable=False
            )
    for table in OUTBOXES:
        op.add_column(table, sa.Column("claimed_by", sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    for table in OUTBOXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("claimed_by")
    if op.get_bind().dialect.name != "sqlite":
        longest = max(
            op.get_bind().execute(sa.text(f"SELECT coalesce(max(length({column})), 0) FROM {table}")).scalar_one()
            for table, column in URL_COLUMNS
        )
        if longest > 2000:
            raise RuntimeError(f"URLs of up to {longest} characters are stored; VARCHAR(2000) cannot keep them")
        for table, column in URL_COLUMNS:
            op.alter_column(
                table, column, type_=sa.String(length=2000), existing_type=sa.Text(), existing_nullable=False
            )
