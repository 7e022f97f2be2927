"""Read-only queries over Python's own sqlite3, for the command line's quick answers.

`rulewatch changes` and `rulewatch diff --format json` must answer in a fraction of a
second, and SQLAlchemy's import alone takes longer. These queries read a SQLite
database that is already at SCHEMA_REVISION, opened read-only; for anything else (a
PostgreSQL URL, a missing file, an older schema) `open_plain` returns None and the
caller takes the full path, which migrates and words its errors. Each query has its
twin in storage.repository, and tests/storage/test_plain.py checks that both agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import zstandard

from storage.limits import MAX_ROW_ID
from storage.revision import SCHEMA_REVISION

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy keeps a UTC datetime in SQLite


@dataclass(frozen=True)
class PlainDocument:
    id: int
    source_id: int
    key: str
    url: str
    title: str
    latest_version: int


@dataclass(frozen=True)
class PlainSource:
    name: str


@dataclass(frozen=True)
class PlainEvent:
    id: int
    kind: str
    source_id: int
    document_id: int
    from_version: int | None
    to_version: int | None
    severity: str | None
    reasons: list[str]
    expectations: list[str]
    summary: str
    baseline: bool
    detected_at: datetime


def open_plain(url: str) -> sqlite3.Connection | None:
    """A read-only connection to the SQLite file at `url` when it is at this code's schema; else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = Path(url[len(prefix) :])
    if not path.name or str(path) == ":memory:" or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=30)
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    if revision is None or revision[0] != SCHEMA_REVISION:
        connection.close()
        return None
    return connection


def source_id(connection: sqlite3.Connection, name: str) -> int | None:
    row = connection.execute("SELECT id FROM source WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def source_names(connection: sqlite3.Connection) -> dict[int, PlainSource]:
    return {row[0]: PlainSource(row[1]) for row in connection.execute("SELECT id, name FROM source")}


def documents_by_id(connection: sqlite3.Connection, ids: Sequence[int]) -> dict[int, PlainDocument]:
    found: dict[int, PlainDocument] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):  # under SQLite's limit on bound values
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT {_DOCUMENT_COLUMNS} FROM document WHERE id IN ({marks})"
        found.update((row[0], PlainDocument(*row)) for row in connection.execute(query, chunk))
    return found


def find_document(connection: sqlite3.Connection, ref: str) -> PlainDocument | None:
    """As storage.repository.find_document: by id, else key, else URL."""
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_ROW_ID:
        row = connection.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM document WHERE id = ?", (int(ref),)).fetchone()
        if row is not None:
            return PlainDocument(*row)
    for column in ("key", "url"):
        query = f"SELECT {_DOCUMENT_COLUMNS} FROM document WHERE {column} = ? ORDER BY id LIMIT 1"
        row = connection.execute(query, (ref,)).fetchone()
        if row is not None:
            return PlainDocument(*row)
    return None


def list_events(
    connection: sqlite3.Connection,
    since: datetime | None = None,
    source_id: int | None = None,
    severities: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[PlainEvent]:
    """As storage.repository.list_events with these filters: newest first."""
    where: list[str] = []
    values: list[object] = []
    if since is not None:
        where.append("detected_at >= ?")
        values.append(since.astimezone(UTC).strftime(_SQLITE_TIME))
    if source_id is not None:
        where.append("source_id = ?")
        values.append(source_id)
    if severities is not None:
        marks = ",".join("?" * len(severities)) or "NULL"
        where.append(f"(kind != 'changed' OR severity IN ({marks}))")
        values.extend(severities)
    query = (
        "SELECT id, kind, source_id, document_id, from_version, to_version, severity, reasons, expectations,"
        " summary, baseline, detected_at FROM event"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY detected_at DESC, id DESC"
        + (" LIMIT ?" if limit else "")
    )
    if limit:
        values.append(limit)
    return [
        PlainEvent(
            id=row[0],
            kind=row[1],
            source_id=row[2],
            document_id=row[3],
            from_version=row[4],
            to_version=row[5],
            severity=row[6],
            reasons=json.loads(row[7]),
            expectations=json.loads(row[8]),
            summary=row[9],
            baseline=bool(row[10]),
            detected_at=_time(row[11]),
        )
        for row in connection.execute(query, values)
    ]


@dataclass(frozen=True)
class PlainReview:
    status: str
    reviewed_by: str | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class PlainNote:
    author: str
    written_at: datetime
    text: str


def review_rows(
    connection: sqlite3.Connection, event_ids: Sequence[int]
) -> tuple[dict[int, PlainReview], dict[int, list[PlainNote]]]:
    """As storage.repository.review_rows: the events' reviews, and their notes oldest first."""
    reviews: dict[int, PlainReview] = {}
    notes: dict[int, list[PlainNote]] = {}
    unique = sorted(set(event_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT event_id, status, reviewed_by, reviewed_at FROM review WHERE event_id IN ({marks})"
        for event_id, status, by, at in connection.execute(query, chunk):
            reviews[event_id] = PlainReview(status, by, _time(at) if at else None)
        query = (
            f"SELECT event_id, author, written_at, text FROM review_note WHERE event_id IN ({marks})"
            " ORDER BY written_at, id"
        )
        for event_id, author, written_at, text in connection.execute(query, chunk):
            notes.setdefault(event_id, []).append(PlainNote(author, _time(written_at), text))
    return reviews, notes


def change_assessment(
    connection: sqlite3.Connection, document_id: int, from_version: int, to_version: int
) -> tuple[str, list[str]] | None:
    """The severity and reasons ingest gave the change between these versions (storage.repository.change_event)."""
    row = connection.execute(
        "SELECT severity, reasons FROM event WHERE document_id = ? AND kind = 'changed'"
        " AND from_version = ? AND to_version = ? LIMIT 1",
        (document_id, from_version, to_version),
    ).fetchone()
    return None if row is None else (row[0], json.loads(row[1]))


def has_version(connection: sqlite3.Connection, document_id: int, number: int) -> bool:
    query = "SELECT 1 FROM version WHERE document_id = ? AND number = ?"
    return connection.execute(query, (document_id, number)).fetchone() is not None


def cached_redline(
    connection: sqlite3.Connection, document_id: int, from_version: int, to_version: int, revision: str
) -> str | None:
    """The redline JSON storage.redline_cache kept for this pair, as storage.redline_cache.cached_redline."""
    row = connection.execute(
        "SELECT body FROM redline_cache WHERE document_id = ? AND from_version = ? AND to_version = ?"
        " AND revision = ? LIMIT 1",
        (document_id, from_version, to_version, revision),
    ).fetchone()
    return None if row is None else unpack_redline(bytes(row[0]))


def unpack_redline(body: bytes) -> str | None:
    """A redline_cache row's body as its JSON text, or None when it does not read back (a damaged
    row is only a miss: the redline is computed again). Here, so that reading needs no SQLAlchemy."""
    try:
        return zstandard.ZstdDecompressor().decompress(body).decode("utf-8")
    except (zstandard.ZstdError, UnicodeDecodeError):
        return None


_DOCUMENT_COLUMNS = "id, source_id, key, url, title, latest_version"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
