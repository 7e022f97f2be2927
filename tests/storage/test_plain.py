"""storage.plain answers as storage.repository does, from a SQLite file at this code's schema."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlmodel import select

from storage import plain
from storage.db import session_scope
from storage.models import Event
from storage.redline_cache import cached_redline
from storage.repository import find_document, get_source, list_events
from tests.support.history import GUIDANCE, NOTICE, build_history
from tracker.redline.compute import REDLINE_REVISION


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    built = build_history(f"sqlite:///{folder / 'rulewatch.db'}", folder)
    yield built
    built.engine.dispose()


@pytest.fixture
def connection(history):
    opened = plain.open_plain(history.config.database_url)
    assert opened is not None
    yield opened
    opened.close()


def _fields(event) -> tuple:
    return (
        event.id,
        event.kind,
        event.source_id,
        event.document_id,
        event.from_version,
        event.to_version,
        event.severity,
        list(event.reasons),
        list(event.expectations),
        event.summary,
        event.baseline,
        event.detected_at,
    )


def test_events_are_those_of_the_repository_for_every_filter(history, connection):
    with session_scope(history.engine) as session:
        bis = get_source(session, "bis")
        assert bis is not None and bis.id is not None
        middle = sorted(e.detected_at for e in session.exec(select(Event)))[5]
        cases = [
            {},
            {"limit": 3},
            {"source_id": bis.id},
            {"severities": ["substantive"]},
            {"severities": ["minor", "substantive"], "limit": 4},
            {"since": middle},
            {"since": middle + timedelta(microseconds=1)},
        ]
        for filters in cases:
            expected = [_fields(e) for e in list_events(session, **filters)]
            assert [_fields(e) for e in plain.list_events(connection, **filters)] == expected, filters
            assert expected or "since" in filters, filters


def test_documents_are_found_by_id_key_or_url(history, connection):
    with session_scope(history.engine) as session:
        for ref in (str(history.documents[GUIDANCE]), GUIDANCE, NOTICE, "nope", "99999", "9" * 30):
            expected = find_document(session, ref)
            found = plain.find_document(connection, ref)
            if expected is None:
                assert found is None, ref
            else:
                assert found is not None
                assert (found.id, found.key, found.url, found.title, found.latest_version) == (
                    expected.id,
                    expected.key,
                    expected.url,
                    expected.title,
                    expected.latest_version,
                )


def test_the_kept_redline_and_judgement_are_read(history, connection):
    guidance = history.documents[GUIDANCE]
    with session_scope(history.engine) as session:
        assert plain.cached_redline(connection, guidance, 2, 3, REDLINE_REVISION) == cached_redline(
            session, guidance, 2, 3, REDLINE_REVISION
        )
        event = session.get(Event, history.events["negation"])
        assert event is not None
        assert plain.change_assessment(connection, guidance, 2, 3) == (event.severity, event.reasons)
    assert plain.change_assessment(connection, guidance, 1, 3) is None
    assert plain.cached_redline(connection, guidance, 2, 3, "another revision") is None
    assert plain.has_version(connection, guidance, 3) and not plain.has_version(connection, guidance, 4)


def test_only_a_sqlite_file_at_this_schema_is_read(history, tmp_path):
    assert plain.open_plain("postgresql+psycopg://nobody@127.0.0.1/test") is None
    assert plain.open_plain(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert plain.open_plain("sqlite://") is None
    older = tmp_path / "older.db"
    with sqlite3.connect(older) as made:
        made.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        made.execute("INSERT INTO alembic_version VALUES ('0001')")
    assert plain.open_plain(f"sqlite:///{older}") is None
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("not SQLite")
    assert plain.open_plain(f"sqlite:///{not_a_database}") is None


def test_it_never_writes(history, connection):
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("DELETE FROM event")
