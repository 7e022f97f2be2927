"""the review desk: accounts, one-time sign-in links, sessions, sign-in failures, reviews, notes, audit log

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql import sqltypes

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqltypes.AutoString(length=320), nullable=False),
        sa.Column("role", sqltypes.AutoString(length=20), nullable=False),
        sa.Column("password_hash", sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("password_set_at", sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index("ix_user_account_email", ["email"], unique=True)

    op.create_table(
        "sign_in_link",
        sa.Column("token_sha256", sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    with op.batch_alter_table("sign_in_link", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_link_user_id", ["user_id"], unique=False)

    op.create_table(
        "user_session",
        sa.Column("id_sha256", sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index("ix_user_session_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_user_session_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sqltypes.AutoString(length=100), nullable=False),
        sa.Column("email", sqltypes.AutoString(length=320), nullable=False),
        sa.Column("at", sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_failure", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failure_client", ["client"], unique=False)
        batch_op.create_index("ix_sign_in_failure_email", ["email"], unique=False)
        batch_op.create_index("ix_sign_in_failure_at", ["at"], unique=False)

    op.create_table(
        "review",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("status", sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reviewed_by", sqltypes.AutoString(length=320), nullable=True),
        sa.Column("reviewed_at", sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index("ix_review_status", ["status"], unique=False)

    op.create_table(
        "review_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("author", sqltypes.AutoString(length=320), nullable=False),
        sa.Column("written_at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_note", schema=None) as batch_op:
        batch_op.create_index("ix_review_note_event_id", ["event_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", sqltypes.AutoString(length=320), nullable=False),
        sa.Column("action", sqltypes.AutoString(length=40), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sqltypes.AutoString(length=20), nullable=True),
        sa.Column("to_status", sqltypes.AutoString(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("subject", sqltypes.AutoString(length=320), nullable=True),
        sa.Column("detail", sqltypes.AutoString(length=300), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_log_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_log_event_id", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("review_note")
    op.drop_table("review")
    op.drop_table("sign_in_failure")
    op.drop_table("user_session")
    op.drop_table("sign_in_link")
    op.drop_table("user_account")
