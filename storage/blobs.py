"""Content-addressed, compressed byte storage: identical bytes are stored once.

A blob is either a full copy (zstd; zlib in databases written before deltas) or a
zstd delta against a *base* blob: usually the same document's previous version,
whose bytes serve as the compression dictionary. A tracked page changes by a
few words between versions, so such a delta is a few hundred bytes where a full
copy is a hundred KB or more. Chains are bounded: a blob whose base is already
MAX_DEPTH deltas from a full copy is stored in full (a "keyframe"), so reading
any blob costs at most MAX_DEPTH + 1 decompressions.

Every read checks the bytes against their SHA-256, so a damaged or missing link
in a chain is a BlobError naming it, never wrong bytes.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Collection
from collections.abc import Set as AbstractSet

import zstandard
from sqlalchemy import text
from sqlmodel import Session, col, select

from storage.db import in_chunks, insert_if_absent
from storage.models import Blob

LEVEL = 3  # zstd's default: ~10x faster than zlib at level 6 for about the same size
MAX_DEPTH = 15  # deltas between any blob and its full copy: a keyframe every 16 versions
MAX_WINDOW_LOG = 27  # zstd decoders accept up to 128 MB of window by default; larger pairs are stored in full


class BlobError(Exception):
    """Stored bytes that cannot be given back: missing, or not what their SHA-256 says."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_blob(session: Session, data: bytes, base: str | None = None, unstored: AbstractSet[str] = frozenset()) -> str:
    """Store `data` (if new) and return its SHA-256.

    `base` is the SHA-256 of a stored blob likely to resemble `data` (the same
    document's previous version of the same kind of bytes); `data` is then kept
    as a delta against it when that is smaller than a full copy. `unstored`: digests
    the caller has just found not stored (see unstored_blobs), so not asked again.
    """
    digest = sha256_hex(data)
    if digest not in unstored and _stored(session, digest):
        return digest  # stored already, whichever way
    stored, base_sha256, depth = zstandard.ZstdCompressor(level=LEVEL).compress(data), None, 0
    base_blob = session.get(Blob, base) if base and base != digest else None
    if base and base != digest and base_blob is None:
        raise BlobError(f"cannot store a delta of {digest}: its base {base} is not stored")
    if base_blob is not None and base_blob.depth < MAX_DEPTH:
        delta = _delta(get_blob(session, base_blob.sha256), data)
        if delta is not None and len(delta) < len(stored):
            stored, base_sha256, depth = delta, base_blob.sha256, base_blob.depth + 1
    values = {
        "sha256": digest,
        "size": len(data),
        "compression": "zstd",
        "base_sha256": base_sha256,
        "depth": depth,
        "data": stored,
    }
    # Another process may store the same bytes at the same moment: let the first win.
    insert_if_absent(session, Blob, ["sha256"], values)
    return digest


def unstored_blobs(session: Session, digests: Collection[str]) -> set[str]:
    """Those of `digests` that no stored blob has, in a statement for a few hundred."""
    stored: set[str] = set()
    for part in in_chunks(sorted(set(digests))):
        stored.update(session.exec(select(Blob.sha256).where(col(Blob.sha256).in_(part))))
    return set(digests) - stored


def _stored(session: Session, digest: str) -> bool:
    # A plain SELECT of the key: loading the row through the ORM would read its data too.
    query = text("SELECT 1 FROM blob WHERE sha256 = :digest")
    return session.connection().execute(query, {"digest": digest}).first() is not None


def get_blob(session: Session, digest: str) -> bytes:
    """The bytes whose SHA-256 is `digest`, rebuilt from their chain of deltas if need be."""
    chain = [_load(session, digest, None)]  # the blob, its base, its base's base … down to a full copy
    while chain[-1].base_sha256 is not None:
        base = _load(session, chain[-1].base_sha256, chain[-1].sha256)
        if base.depth != chain[-1].depth - 1:  # depths fall by one to 0, so a chain always ends
            raise BlobError(
                f"blob {chain[-1].sha256} has a base {base.sha256} at the wrong depth; the database is damaged"
            )
        chain.append(base)
    data = b""
    for blob in reversed(chain):  # from the full copy up, each delta against the bytes below it
        data = _decompress(blob, data if blob.base_sha256 is not None else None)
        if sha256_hex(data) != blob.sha256:
            raise BlobError(
                f"blob {blob.sha256} does not match its SHA-256 when read back"
                + (f" (needed by {digest})" if blob.sha256 != digest else "")
                + "; the database is damaged"
            )
    return data


def _load(session: Session, digest: str, needed_by: str | None) -> Blob:
    blob = session.get(Blob, digest)
    if blob is None:
        if needed_by is None:
            raise BlobError(f"no stored bytes with SHA-256 {digest}")
        raise BlobError(f"blob {needed_by} is a delta against {digest}, which is not stored; the database is damaged")
    return blob


def _decompress(blob: Blob, base_data: bytes | None) -> bytes:
    try:
        if blob.compression == "zlib":  # full copies written before zstd
            return zlib.decompress(blob.data)
        if blob.compression != "zstd":
            raise BlobError(f"blob {blob.sha256} uses an unknown compression {blob.compression!r}")
        if base_data is None:
            return zstandard.ZstdDecompressor().decompress(blob.data)
        return zstandard.ZstdDecompressor(dict_data=_dictionary(base_data)).decompress(blob.data)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise BlobError(f"blob {blob.sha256} cannot be decompressed ({exc}); the database is damaged") from None


def _delta(base_data: bytes, data: bytes) -> bytes | None:
    """`data` compressed with `base_data` as the dictionary, or None when the pair is too large for it."""
    # The window must reach back over the whole base; zstd's defaults index about 2 MB of it,
    # so larger bases get larger match tables (capped: 2 × 16 MB, enough for ~10 MB pages).
    window_log = max(10, math.ceil(math.log2(len(base_data) + len(data) + 1)))
    if window_log > MAX_WINDOW_LOG:
        return None
    table_log = min(max(window_log - 2, 17), 22)
    params = zstandard.ZstdCompressionParameters.from_level(
        LEVEL, window_log=window_log, hash_log=table_log, chain_log=table_log, write_checksum=1
    )
    return zstandard.ZstdCompressor(compression_params=params, dict_data=_dictionary(base_data)).compress(data)


def _dictionary(base_data: bytes) -> zstandard.ZstdCompressionDict:
    # Raw content: the base's bytes as they are, not a trained dictionary.
    return zstandard.ZstdCompressionDict(base_data, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
