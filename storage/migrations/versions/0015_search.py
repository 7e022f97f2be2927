"""search: each version's passages and words in the database's full-text index

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from storage.search import index_missing

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passage",  # each distinct passage (a title or a block's text) once
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "version_passages",
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("version.id"), nullable=False),
        sa.Column("passages", sa.LargeBinary(), nullable=False),  # passage ids in order: zstd of int64 deltas
        sa.PrimaryKeyConstraint("version_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import TSVECTOR

        for table, of in (("version_words", "version.id"), ("passage_words", "passage.id")):
            op.create_table(
                table,
                sa.Column("id", sa.Integer(), sa.ForeignKey(of), nullable=False),
                sa.Column("part", sa.Integer(), nullable=False),
                sa.Column("words", TSVECTOR(), nullable=False),
                sa.PrimaryKeyConstraint("id", "part"),
            )
            op.create_index(f"ix_{table}_words", table, ["words"], postgresql_using="gin")
            # The few rows whose words fill more than one tsvector, found at once.
            op.create_index(f"ix_{table}_parts", table, ["id"], postgresql_where=sa.text("part > 0"))
    else:
        # Only the words: no copy of the text (content=''), no positions (detail=none), and the
        # `ascii` tokenizer keeps each word as storage.search.words() made it.
        for table in ("version_words", "passage_words"):
            op.execute(
                f"CREATE VIRTUAL TABLE {table} USING fts5("
                "words, content='', detail=none, columnsize=0, tokenize='ascii')"
            )
    # Everything already stored is indexed now, reading each version's content blob.
    index_missing(op.get_bind())


def downgrade() -> None:
    op.execute("DROP TABLE passage_words")
    op.execute("DROP TABLE version_words")
    op.drop_table("version_passages")
    op.drop_table("passage")
