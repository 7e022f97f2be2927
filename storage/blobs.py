"""Content-addressed, compressed byte storage: identical bytes are stored once."""

from __future__ import annotations

import hashlib
import zlib

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import Blob


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_blob(session: Session, data: bytes) -> str:
    """Store `data` (if new) and return its SHA-256."""
    digest = sha256_hex(data)
    values = {"sha256": digest, "size": len(data), "compression": "zlib", "data": zlib.compress(data, 6)}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Another process may store the same bytes at the same moment: let the first win.
    session.execute(insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
    return digest


def get_blob(session: Session, digest: str) -> bytes:
    blob = session.get(Blob, digest)
    if blob is None:
        raise KeyError(f"no stored bytes with SHA-256 {digest}")
    if blob.compression == "zlib":
        return zlib.decompress(blob.data)
    return bytes(blob.data)
