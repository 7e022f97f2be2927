"""Blobs as deltas against a base, on SQLite and PostgreSQL alike (the database_url fixture runs both)."""

import itertools
import random
import zlib

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, text, update
from sqlmodel import select

from storage.blobs import MAX_DEPTH, BlobError, get_blob, put_blob, sha256_hex, unstored_blobs
from storage.db import MIGRATIONS_DIR, open_database, session_scope, upgrade, utcnow
from storage.models import Blob, Version
from tracker.ingest import Ingestor
from tracker.items import Snapshot
from tracker.kinds.page.config import PageConfig


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def page_versions(count: int, seed: int = 1) -> list[bytes]:
    """A ~60 KB page, then `count - 1` versions of it, each a few words edited."""
    rng = random.Random(seed)
    words = [
        rng.choice(
            [
                "export",
                "license",
                "item",
                "entity",
                "party",
                "end",
                "use",
                "section",
                "744",
                "shall",
                "not",
                "require",
                "the",
                "of",
                "to",
                "a",
                "for",
                "in",
                "under",
                "paragraph",
            ]
        )
        for _ in range(9000)
    ]
    pages = []
    for _ in range(count):
        pages.append(("<main><p>" + " ".join(words) + "</p></main>").encode())
        for _ in range(3):
            words[rng.randrange(len(words))] = rng.choice(["amended", "removed", "10 percent", "25 percent"])
    return pages


def put_chain(engine, pages: list[bytes]) -> list[str]:
    """Each page stored with the previous one as its base, one transaction each (as ingest does)."""
    digests, base = [], None
    for page in pages:
        with session_scope(engine) as session:
            base = put_blob(session, page, base=base)
        digests.append(base)
    return digests


def rows(engine, digests: list[str]) -> list[Blob]:
    with session_scope(engine) as session:
        return [session.get(Blob, digest) for digest in digests]


def test_a_version_is_stored_as_a_small_delta_and_reads_back(engine):
    first, second = page_versions(2)
    digests = put_chain(engine, [first, second])
    full, delta = rows(engine, digests)
    assert (full.base_sha256, full.depth, full.compression) == (None, 0, "zstd")
    assert (delta.base_sha256, delta.depth, delta.compression) == (digests[0], 1, "zstd")
    assert delta.size == len(second) and len(delta.data) < 300 < len(full.data) / 20
    with session_scope(engine) as session:
        assert get_blob(session, digests[1]) == second
        assert get_blob(session, digests[0]) == first


def test_chains_are_bounded_by_keyframes_and_every_link_reads_back(engine):
    pages = page_versions(2 * (MAX_DEPTH + 1) + 3)
    digests = put_chain(engine, pages)
    stored = rows(engine, digests)
    # A full copy every MAX_DEPTH + 1 versions, deltas against the previous version in between.
    assert [blob.depth for blob in stored] == [k % (MAX_DEPTH + 1) for k in range(len(pages))]
    for k, blob in enumerate(stored):
        assert blob.base_sha256 == (None if blob.depth == 0 else digests[k - 1])
    assert sum(len(blob.data) for blob in stored) < 4 * len(stored[0].data)
    with session_scope(engine) as session:
        for k in random.Random(3).sample(range(len(pages)), len(pages)):  # any order, fresh reads
            assert get_blob(session, digests[k]) == pages[k]


def test_a_delta_that_is_not_smaller_is_stored_in_full(engine):
    unrelated = random.Random(5).randbytes(50_000)
    page = page_versions(1)[0]
    with session_scope(engine) as session:
        base = put_blob(session, unrelated)
        digest = put_blob(session, page, base=base)
    (blob,) = rows(engine, [digest])
    assert (blob.base_sha256, blob.depth) == (None, 0)
    with session_scope(engine) as session:
        assert get_blob(session, digest) == page


def test_a_large_base_still_gives_a_small_delta(engine):
    # Past zstd's default window and match tables (~2 MB): they are sized to the base.
    base_page = random.Random(11).randbytes(3_000_000)
    edited = bytearray(base_page)
    for position in (10, 1_500_000, 2_999_000):
        edited[position : position + 4] = b"EDIT"
    digests = put_chain(engine, [base_page, bytes(edited)])
    assert len(rows(engine, digests)[1].data) < 10_000  # zstd's defaults give 2.7 MB here
    with session_scope(engine) as session:
        assert get_blob(session, digests[1]) == bytes(edited)


def test_identical_bytes_are_stored_once_whatever_the_base(engine):
    first, second = page_versions(2)
    with session_scope(engine) as session:
        a = put_blob(session, first)
        b = put_blob(session, second, base=a)
        assert put_blob(session, second) == b  # stored already: not stored again in full
        assert put_blob(session, first, base=b) == a  # nor again as a delta
        assert put_blob(session, first, base=a) == a  # its own base: nothing to do
    with session_scope(engine) as session:
        assert sorted(session.exec(select(Blob.sha256)).all()) == sorted([a, b])
        assert session.get(Blob, b).base_sha256 == a and session.get(Blob, a).base_sha256 is None
        assert (get_blob(session, a), get_blob(session, b)) == (first, second)


def test_zlib_blobs_of_an_old_database_still_read_and_can_be_bases(database_url):
    engine = open_database(database_url, migrate=False)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logger"] = False
    with engine.begin() as connection:  # the schema as it was before deltas
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    old, new = page_versions(2)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO blob (sha256, size, compression, data) VALUES (:s, :n, 'zlib', :d)"),
            {"s": sha256_hex(old), "n": len(old), "d": zlib.compress(old, 6)},
        )
    upgrade(engine)
    with session_scope(engine) as session:
        stored = session.get(Blob, sha256_hex(old))
        assert (stored.compression, stored.base_sha256, stored.depth) == ("zlib", None, 0)
        assert get_blob(session, stored.sha256) == old
        digest = put_blob(session, new, base=stored.sha256)
    with session_scope(engine) as session:
        assert session.get(Blob, digest).base_sha256 == sha256_hex(old)
        assert get_blob(session, digest) == new
    engine.dispose()


def test_a_missing_base_is_a_clear_error(engine):
    first, second, third = page_versions(3)
    digests = put_chain(engine, [first, second, third])
    with session_scope(engine) as session:
        session.execute(delete(Blob).where(Blob.sha256 == digests[0]))
    with session_scope(engine) as session:
        with pytest.raises(BlobError, match=f"blob {digests[1]} is a delta against {digests[0]}, which is not stored"):
            get_blob(session, digests[2])
        with pytest.raises(BlobError, match=f"no stored bytes with SHA-256 {digests[0]}"):
            get_blob(session, digests[0])
        with pytest.raises(BlobError, match=f"its base {digests[0]} is not stored"):
            put_blob(session, b"a new version", base=digests[0])


def test_a_corrupt_base_is_a_clear_error_never_wrong_bytes(engine):
    first, second, third = page_versions(3)
    digests = put_chain(engine, [first, second, third])
    (stored,) = rows(engine, [digests[0]])
    with session_scope(engine) as session:  # the base now holds other, well-formed bytes
        other = put_blob(session, b"something else")
        session.execute(
            update(Blob).where(Blob.sha256 == digests[0]).values(data=session.get(Blob, other).data, size=14)
        )
    with session_scope(engine) as session:
        with pytest.raises(BlobError, match=f"blob {digests[0]} does not match its SHA-256 .*needed by {digests[2]}"):
            get_blob(session, digests[2])
    with session_scope(engine) as session:  # bytes flipped inside a delta
        session.execute(update(Blob).where(Blob.sha256 == digests[0]).values(data=stored.data, size=stored.size))
        delta = session.get(Blob, digests[1]).data
        damaged = delta[:-8] + bytes(b ^ 0xFF for b in delta[-8:])
        session.execute(update(Blob).where(Blob.sha256 == digests[1]).values(data=damaged))
    with session_scope(engine) as session:
        assert get_blob(session, digests[0]) == first
        with pytest.raises(BlobError, match=f"blob {digests[1]} (cannot be decompressed|does not match)"):
            get_blob(session, digests[2])


def test_a_base_at_the_wrong_depth_is_a_clear_error(engine):
    digests = put_chain(engine, page_versions(3))
    with session_scope(engine) as session:  # a loop: the first version made a delta of the last
        session.execute(update(Blob).where(Blob.sha256 == digests[0]).values(base_sha256=digests[2], depth=3))
    with session_scope(engine) as session:
        with pytest.raises(BlobError, match="at the wrong depth"):
            get_blob(session, digests[2])


def test_ingest_stores_each_version_as_deltas_against_the_previous_one(engine):
    url = "https://www.bis.gov/guidance"
    source = PageConfig(name="bis", kind="page", interval=3600, url=url)
    pages = page_versions(3)
    for page in pages:
        ingestor = Ingestor(engine, source, progress=lambda line: None)
        ingestor.ingest_snapshot(
            Snapshot(
                source="bis",
                key=url,
                url=url,
                final_url=url,
                status=200,
                headers={"Content-Type": "text/html"},
                body=page,
                fetched_at=utcnow(),
            )
        )
        ingestor.finish()
    with session_scope(engine) as session:
        versions = session.exec(select(Version).order_by(Version.number)).all()
        assert [v.number for v in versions] == [1, 2, 3]
        for previous, version in itertools.pairwise(versions):
            raw, content = session.get(Blob, version.sha256), session.get(Blob, version.content_sha256)
            assert (raw.base_sha256, raw.depth) == (previous.sha256, version.number - 1)
            assert (content.base_sha256, content.depth) == (previous.content_sha256, version.number - 1)
        assert [get_blob(session, v.sha256) for v in versions] == pages


def test_unstored_blobs_names_those_not_stored_and_put_blob_trusts_it(engine):
    with session_scope(engine) as session:
        kept = put_blob(session, b"kept")
        wanted = [kept, sha256_hex(b"new"), sha256_hex(b"another")]
        unstored = unstored_blobs(session, wanted)
        assert unstored == {sha256_hex(b"new"), sha256_hex(b"another")}
        # Named unstored but written since (two documents of a batch with the same bytes): stored once.
        assert put_blob(session, b"new", unstored=unstored) == sha256_hex(b"new")
        assert put_blob(session, b"new", unstored=unstored) == sha256_hex(b"new")
        assert get_blob(session, sha256_hex(b"new")) == b"new"
        assert len(session.exec(select(Blob.sha256)).all()) == 2
