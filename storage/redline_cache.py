"""Redlines kept by version pair: compressed once, read back without diffing again.

The cache holds JSON text it does not interpret (tracker.redline.model writes and
reads it). Rows are keyed by the redline algorithm's revision, so a newer algorithm
simply misses the older rows; storage.plain reads the same rows without SQLAlchemy.
"""

from __future__ import annotations

import zstandard
from sqlmodel import Session, col, delete, select

from storage.db import insert_if_absent, utcnow
from storage.models import RedlineCache
from storage.plain import unpack_redline

LEVEL = 3  # a 2 MB redline compresses in ~10 ms at this level, to about a fifth


def cached_redline(session: Session, document_id: int, from_version: int, to_version: int, revision: str) -> str | None:
    """The redline JSON kept for this pair under this algorithm revision, if any."""
    body = session.exec(
        select(RedlineCache.body).where(
            RedlineCache.document_id == document_id,
            RedlineCache.from_version == from_version,
            RedlineCache.to_version == to_version,
            RedlineCache.revision == revision,
        )
    ).first()
    return None if body is None else unpack_redline(body)


def forget_redline(session: Session, document_id: int, from_version: int, to_version: int, revision: str) -> None:
    """Drop a kept redline that no longer reads back, so that a fresh one takes its place."""
    session.exec(
        delete(RedlineCache).where(
            col(RedlineCache.document_id) == document_id,
            col(RedlineCache.from_version) == from_version,
            col(RedlineCache.to_version) == to_version,
            col(RedlineCache.revision) == revision,
        )
    )


def keep_redline(
    session: Session, document_id: int, from_version: int, to_version: int, revision: str, redline_json: str
) -> None:
    """Keep a computed redline; a row another process wrote first for the same pair stays."""
    insert_if_absent(
        session,
        RedlineCache,
        ["document_id", "from_version", "to_version", "revision"],
        {
            "document_id": document_id,
            "from_version": from_version,
            "to_version": to_version,
            "revision": revision,
            "body": zstandard.ZstdCompressor(level=LEVEL).compress(redline_json.encode("utf-8")),
            "created_at": utcnow(),
        },
    )
