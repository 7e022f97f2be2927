"""Redlines kept by version pair: written by ingest, read by every view, never diffed again."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from sqlmodel import select

import tracker.compare
from storage.db import session_scope
from storage.models import Document, RedlineCache
from storage.redline_cache import cached_redline
from storage.repository import require_row
from tests.support.history import GUIDANCE, NOTICE, Checks, build_history, page_file, snapshot
from tracker.compare import compare_versions
from tracker.kinds.page.config import PageConfig
from tracker.kinds.page.content import read as read_page
from tracker.reading.content import Block, Content
from tracker.redline.compute import REDLINE_REVISION, diff_contents
from tracker.redline.model import Redline

# The redlines of guidance v1 → v3 (tests/files/pages) and of a part that gains, loses, edits
# and moves paragraphs, by revision. When diff_contents changes what it returns, this test
# fails: raise REDLINE_REVISION, so that redlines kept under the old one are computed again,
# and record the new digest under the new revision.
REDLINES_SHA256 = {"1": "0b006e8ec2f694c174785f718c4b50028882d44d502ebb70dcc6d91a58618781"}

PART_OLD = Content(
    "Part 744",
    (
        Block("§ 744.1 General provisions.", "heading", "§ 744.1", "§ 744.1"),
        Block("(a) This part applies to exports of items subject to the EAR.", "paragraph", "(a)", "§ 744.1(a)"),
        Block("(b) A license is required for the end uses described below.", "paragraph", "(b)", "§ 744.1(b)"),
        Block("(c) Exporters must keep records for five years after the export.", "paragraph", "(c)", "§ 744.1(c)"),
        Block("(d) Reserved.", "paragraph", "(d)", "§ 744.1(d)"),
    ),
)
PART_NEW = Content(
    "Part 744 (revised)",
    (
        Block("§ 744.1 General provisions.", "heading", "§ 744.1", "§ 744.1"),
        Block(
            "(a) This part applies to exports and reexports of items subject to the EAR.",
            "paragraph",
            "(a)",
            "§ 744.1(a)",
        ),
        Block("(c) Exporters must keep records for five years after the export.", "paragraph", "(c)", "§ 744.1(c)"),
        Block("(b) A license is required for the end uses described below.", "paragraph", "(b)", "§ 744.1(b)"),
        Block("(e) Advanced computing items are described in § 744.23.", "paragraph", "(e)", "§ 744.1(e)"),
    ),
)


def _guidance_redline() -> Redline:
    source = PageConfig(name="bis", kind="page", interval=60, url=GUIDANCE)
    old = read_page(snapshot("bis", GUIDANCE, page_file("guidance_v1.html")), source)
    new = read_page(snapshot("bis", GUIDANCE, page_file("guidance_v3_negation.html")), source)
    return diff_contents(old, new)


def test_a_changed_redline_needs_a_new_revision():
    redlines = [_guidance_redline().to_json(), diff_contents(PART_OLD, PART_NEW).to_json()]
    encoded = json.dumps(redlines, sort_keys=True).encode()
    assert REDLINES_SHA256.get(REDLINE_REVISION) == hashlib.sha256(encoded).hexdigest(), (
        "diff_contents returns another redline: raise REDLINE_REVISION (tracker/redline/compute.py) "
        "and record the digest for it here"
    )


def test_a_redline_reads_back_as_it_was_written():
    for redline in (_guidance_redline(), diff_contents(PART_OLD, PART_NEW), diff_contents(None, PART_NEW)):
        assert redline.changed
        assert Redline.from_json(json.loads(json.dumps(redline.to_json()))) == redline
    kinds = {hunk.kind for hunk in diff_contents(PART_OLD, PART_NEW).hunks}
    assert {"moved", "changed", "inserted", "deleted"} <= kinds


def test_ingest_keeps_the_redline_of_each_change(database_url, tmp_path):
    history = build_history(database_url, tmp_path)
    guidance, notice = history.documents[GUIDANCE], history.documents[NOTICE]
    with session_scope(history.engine) as session:
        kept = {(r.document_id, r.from_version, r.to_version) for r in session.exec(select(RedlineCache))}
        # the guidance's 1 → 2 was the same bytes read again? no: a cosmetic edit, diffed like any change
        assert {(guidance, 1, 2), (guidance, 2, 3), (notice, 1, 2)} <= kept
        document = require_row(session, Document, guidance)
        body = cached_redline(session, guidance, 2, 3, REDLINE_REVISION)
    assert body is not None
    with session_scope(history.engine) as session:
        fresh = diff_contents(*_contents(session, document, 2, 3))
    assert Redline.from_json(json.loads(body)) == fresh


def test_views_of_a_change_never_diff_again(database_url, tmp_path, monkeypatch):
    history = build_history(database_url, tmp_path)

    def no_diffing(*args, **kwargs):
        raise AssertionError("a view diffed versions whose redline was kept")

    monkeypatch.setattr(tracker.compare, "diff_contents", no_diffing)
    with session_scope(history.engine) as session:
        document = require_row(session, Document, history.documents[GUIDANCE])
        comparison = compare_versions(session, document, 2, 3)
    assert comparison.assessment is not None and comparison.assessment.severity == "substantive"
    assert comparison.redline.changed


def test_a_view_keeps_a_pair_ingest_never_compared(database_url, tmp_path, monkeypatch):
    history = build_history(database_url, tmp_path)
    guidance = history.documents[GUIDANCE]
    with session_scope(history.engine) as session:
        first = compare_versions(session, require_row(session, Document, guidance), 1, 3)
    with session_scope(history.engine) as session:
        assert cached_redline(session, guidance, 1, 3, REDLINE_REVISION) is not None
    monkeypatch.setattr(tracker.compare, "diff_contents", lambda *a: pytest.fail("diffed again"))
    with session_scope(history.engine) as session:
        again = compare_versions(session, require_row(session, Document, guidance), 1, 3)
    assert again.redline == first.redline and again.assessment == first.assessment


def test_an_older_revision_is_not_read(database_url, tmp_path, monkeypatch):
    history = build_history(database_url, tmp_path)
    guidance = history.documents[GUIDANCE]
    monkeypatch.setattr(tracker.compare, "REDLINE_REVISION", "next")
    with session_scope(history.engine) as session:
        assert cached_redline(session, guidance, 2, 3, "next") is None
        compare_versions(session, require_row(session, Document, guidance), 2, 3)
    with session_scope(history.engine) as session:
        revisions = session.exec(
            select(RedlineCache.revision).where(
                RedlineCache.document_id == guidance, RedlineCache.from_version == 2, RedlineCache.to_version == 3
            )
        ).all()
    assert sorted(revisions) == sorted([REDLINE_REVISION, "next"])


def test_a_read_only_database_still_shows_a_redline(tmp_path):
    url = f"sqlite:///{tmp_path / 'rulewatch.db'}"
    history = build_history(url, tmp_path)
    guidance = history.documents[GUIDANCE]
    history.engine.dispose()
    from sqlalchemy import create_engine
    from sqlmodel import Session

    def read_only() -> sqlite3.Connection:
        return sqlite3.connect(f"file:{tmp_path / 'rulewatch.db'}?mode=ro", uri=True)

    engine = create_engine("sqlite://", creator=read_only)
    with Session(engine) as session:
        comparison = compare_versions(session, require_row(session, Document, guidance), 1, 3)
    assert comparison.redline.changed and comparison.assessment is not None
    engine.dispose()


def _contents(session, document, old, new):
    from storage.repository import get_version
    from tracker.stored import load_content

    return [load_content(session, get_version(session, document.id, n)) for n in (old, new)]


@pytest.mark.parametrize("damage", [b"not zstd at all", "compressed, not JSON", "JSON, not a redline"])
def test_a_damaged_kept_redline_is_computed_again_and_replaced(database_url, tmp_path, damage):
    import zstandard
    from sqlalchemy import update

    history = build_history(database_url, tmp_path)
    guidance = history.documents[GUIDANCE]
    with session_scope(history.engine) as session:
        fresh = compare_versions(session, require_row(session, Document, guidance), 2, 3).redline
    body = {
        "compressed, not JSON": zstandard.ZstdCompressor().compress(b"{half a redl"),
        "JSON, not a redline": zstandard.ZstdCompressor().compress(b'{"hunks": 3}'),
    }.get(damage, damage)
    with session_scope(history.engine) as session:
        session.exec(update(RedlineCache).where(RedlineCache.document_id == guidance).values(body=body))
    with session_scope(history.engine) as session:
        again = compare_versions(session, require_row(session, Document, guidance), 2, 3)
    assert again.redline == fresh
    with session_scope(history.engine) as session:
        kept = cached_redline(session, guidance, 2, 3, REDLINE_REVISION)
    assert kept is not None and Redline.from_json(json.loads(kept)) == fresh  # replaced by the good one


def test_a_redline_of_a_version_read_again_is_not_kept(database_url, tmp_path, monkeypatch):
    """Ingest reads an older reader's version again before comparing; that redline is not the one a
    view computes from the stored contents, so it is not kept for the pair."""
    from sqlalchemy import update

    from storage.models import Version

    history = build_history(database_url, tmp_path)
    guidance = history.documents[GUIDANCE]
    with session_scope(history.engine) as session:
        session.exec(update(Version).where(Version.document_id == guidance, Version.number == 3).values(reader=0))
    Checks(history).run("bis", (GUIDANCE, page_file("guidance_v1.html")))  # version 4, against a re-read 3
    with session_scope(history.engine) as session:
        assert cached_redline(session, guidance, 3, 4, REDLINE_REVISION) is None
