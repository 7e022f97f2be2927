"""The full-text index of every version's readable text, and the reads a search makes of it.

Each version has a row in `version_text` (its readable text, zstd-compressed) and its words
in the database's own full-text index, `version_words`: an FTS5 table on SQLite, a tsvector
column with a GIN index on PostgreSQL. Ingest writes both in the version's own transaction.

The index holds each version's distinct words, as `words()` finds them: runs of letters and
digits of the text lowercased by `fold()`. Queries are made of the same words, quoted, so
the index answers "which versions have all these words" exactly, and the same way on both
databases: no stemmer, stop list, parser or tokenizer of the database's own decides it (the
FTS5 table uses the `ascii` tokenizer, which leaves such words whole; PostgreSQL gets them
as lexemes through array_to_tsvector). Whether a phrase occurs as written is decided by
reading the text back (tracker.search).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import zstandard
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from storage.blobs import BlobError, get_blob
from storage.models import Version

log = logging.getLogger(__name__)

WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; "_" separates words as punctuation does
MAX_WORD = 64  # characters of a word the index keeps (PostgreSQL refuses lexemes over 2,047 bytes)
PART_WORDS = 5_000  # words in one tsvector (PostgreSQL refuses a tsvector of 1 MB or more)
LEVEL = 3
FILL_BATCH = 200


def fold(value: str) -> str:
    """`value` lowercased with one character for each character, so that a position in the
    folded text is the same position in the text. Capital dotted I is the one character
    whose lowercase is two; final sigma counts as sigma."""
    return value.replace("\u0130", "i").lower().replace("\u03c2", "\u03c3")


def words(value: str) -> list[str]:
    """The words of `value` as the index keeps them, in order: folded, at most MAX_WORD long."""
    return [word[:MAX_WORD] for word in WORD.findall(fold(value))]


def readable_text(content: dict) -> str:
    """A version's readable text from its stored content (tracker.reading.content.Content.to_json):
    the title, then each block's text, one per line: what expectations read and redlines compare."""
    blocks = content.get("blocks", [])
    return "\n".join([content.get("title", ""), *(block.get("text", "") for block in blocks)])


def index_version(session: Session, version_id: int, content: dict) -> None:
    """Index one version, given its content as stored; in the caller's transaction."""
    _index(session.connection(), version_id, content)


def _index(connection: Connection, version_id: int, content: dict) -> None:
    body = readable_text(content)
    connection.execute(
        text("INSERT INTO version_text (version_id, body) VALUES (:id, :body)"),
        {"id": version_id, "body": zstandard.ZstdCompressor(level=LEVEL).compress(body.encode("utf-8"))},
    )
    distinct = sorted(set(words(body)))
    if connection.dialect.name == "postgresql":
        for part, start in enumerate(range(0, max(len(distinct), 1), PART_WORDS)):
            connection.execute(
                text(
                    "INSERT INTO version_words (version_id, part, words)"
                    " VALUES (:id, :part, array_to_tsvector(CAST(:words AS text[])))"
                ),
                {"id": version_id, "part": part, "words": distinct[start : start + PART_WORDS]},
            )
    else:
        connection.execute(
            text("INSERT INTO version_words (rowid, words) VALUES (:id, :words)"),
            {"id": version_id, "words": " ".join(distinct)},
        )


def index_missing(connection: Connection) -> int:
    """Index every version that has no index row yet (what the migration that made the index
    runs); returns how many were indexed. A version whose content cannot be read back (a
    damaged database) is left out with a warning naming it."""
    session = Session(bind=connection)  # to read blobs only; it never commits nor rolls back
    done = 0
    after = 0
    while True:
        batch = connection.execute(
            text(
                "SELECT v.id, v.content_sha256 FROM version v"
                " WHERE v.id > :after AND NOT EXISTS (SELECT 1 FROM version_text t WHERE t.version_id = v.id)"
                " ORDER BY v.id LIMIT :limit"
            ),
            {"after": after, "limit": FILL_BATCH},
        ).all()
        if not batch:
            break
        for version_id, content_sha256 in batch:
            after = version_id
            try:
                content = json.loads(get_blob(session, content_sha256))
                if not isinstance(content, dict):
                    raise ValueError(f"a JSON {type(content).__name__} where a content's object belongs")
            except (BlobError, ValueError) as exc:
                log.warning(
                    "version %s is left out of the search index: its content cannot be read (%s)", version_id, exc
                )
                continue
            _index(connection, version_id, content)
            done += 1
        session.expunge_all()  # the blobs read so far
    return done


@dataclass(frozen=True)
class VersionRef:
    id: int
    document_id: int
    number: int
    fetched_at: datetime


def matching_versions(session: Session, wanted: Collection[str], source_id: int | None = None) -> list[int]:
    """The ids of the versions whose text has every word in `wanted` (words as `words()` gives
    them), of one source's documents or of all."""
    if not wanted:
        raise ValueError("a search of the index needs at least one word")
    connection = session.connection()
    params: dict = {"source": source_id}
    of_source = (
        " AND v.document_id IN (SELECT d.id FROM document d WHERE d.source_id = :source)"
        if source_id is not None
        else ""
    )
    if connection.dialect.name == "postgresql":
        # A version whose words fill more than one tsvector has each word in one of them.
        having = []
        for n, word in enumerate(sorted(wanted)):
            params[f"w{n}"] = _lexeme(word)
            having.append(f"SELECT version_id FROM version_words WHERE words @@ CAST(:w{n} AS tsquery)")
        query = f"SELECT v.id FROM version v WHERE v.id IN ({' INTERSECT '.join(having)}){of_source}"
    else:
        params["match"] = " ".join(f'"{word}"' for word in sorted(wanted))
        query = (
            "SELECT v.id FROM version_words JOIN version v ON v.id = version_words.rowid"
            f" WHERE version_words MATCH :match{of_source}"
        )
    return [row[0] for row in connection.execute(text(query), params)]


def _lexeme(word: str) -> str:
    """`word` as a tsquery of that one lexeme, quoted (a word is letters and digits; the quoting holds anyway)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def versions_of(session: Session, document_ids: Collection[int]) -> dict[int, list[VersionRef]]:
    """Every version of these documents, by document, in version order."""
    found: dict[int, list[VersionRef]] = {document_id: [] for document_id in document_ids}
    for chunk in _chunks(sorted(document_ids)):
        query = (
            select(Version.id, Version.document_id, Version.number, Version.fetched_at)
            .where(col(Version.document_id).in_(chunk))
            .order_by(col(Version.number))
        )
        for version_id, document_id, number, fetched_at in session.exec(query):
            found[document_id].append(VersionRef(cast(int, version_id), document_id, number, fetched_at))
    return found


def texts(session: Session, version_ids: Iterable[int]) -> Iterator[tuple[int, str]]:
    """(version id, readable text) of each of these versions that is indexed, read as the caller goes."""
    decompressor = zstandard.ZstdDecompressor()
    for chunk in _chunks(list(version_ids)):
        rows = session.connection().execute(
            text("SELECT version_id, body FROM version_text WHERE version_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": chunk},
        )
        for version_id, body in rows:
            yield version_id, decompressor.decompress(bytes(body)).decode("utf-8")


def _chunks(values: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
