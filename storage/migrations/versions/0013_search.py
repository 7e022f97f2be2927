"""search: each version's readable text and its words in the database's full-text index

Revision ID: 0013
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from storage.search import index_missing

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_text",
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("version.id"), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),  # the readable text, zstd-compressed
        sa.PrimaryKeyConstraint("version_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import TSVECTOR

        op.create_table(
            "version_words",
            sa.Column("version_id", sa.Integer(), sa.ForeignKey("version.id"), nullable=False),
            sa.Column("part", sa.Integer(), nullable=False),
            sa.Column("words", TSVECTOR(), nullable=False),
            sa.PrimaryKeyConstraint("version_id", "part"),
        )
        op.create_index("ix_version_words_words", "version_words", ["words"], postgresql_using="gin")
    else:
        # Only the words: no copy of the text (content=''), no positions (detail=none), the
        # `ascii` tokenizer keeps each word as storage.search.words() made it.
        op.execute(
            "CREATE VIRTUAL TABLE version_words USING fts5("
            "words, content='', detail=none, columnsize=0, tokenize='ascii')"
        )
    # Everything already stored is indexed now, reading each version's content blob.
    index_missing(op.get_bind())


def downgrade() -> None:
    op.execute("DROP TABLE version_words")
    op.drop_table("version_text")
