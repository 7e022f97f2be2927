"""JSON columns (storage.models.StoredJSON) on SQLite and PostgreSQL alike: values in,
the same values out, in the TEXT the columns have always held."""

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import select

from storage.blobs import put_blob
from storage.db import open_database, session_scope, utcnow
from storage.models import Document, Event, NodeJob, Subscriber, Version
from storage.repository import ensure_source

# Non-ASCII, a NUL (PostgreSQL refuses it in text) and a lone surrogate (UTF-8 cannot encode it).
ODD = "Règlement — § 744 ✓ \x00 \ud800 end"


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def _document(session) -> Document:
    source = ensure_source(session, "bis", "page")
    now = utcnow()
    document = Document(source_id=source.id, key="k", url="https://example.gov/", first_seen_at=now, last_seen_at=now)
    session.add(document)
    session.flush()
    return document


def _version(session, document: Document, **columns) -> Version:
    sha = put_blob(session, b"raw")
    version = Version(
        document_id=document.id,
        number=1,
        fetched_at=utcnow(),
        url=document.url,
        final_url=document.url,
        status=200,
        sha256=sha,
        content_hash="h",
        content_sha256=sha,
        **columns,
    )
    session.add(version)
    session.flush()
    return version


def test_values_come_back_as_written_including_odd_text(engine):
    headers = {"X-Note": ODD, "Content-Type": "text/html"}
    evidence = {"stage": "published", "attachments": [{"url": ODD, "status": 200, "headers": {"ETag": '"a"'}}]}
    with session_scope(engine) as session:
        document = _document(session)
        version_id = _version(session, document, headers=headers, evidence=evidence).id
        event = Event(
            kind="changed", source_id=document.source_id, document_id=document.id, reasons=[ODD], detected_at=utcnow()
        )
        subscriber = Subscriber(email="a@example.com", sources=["bis"], expectations=["gp10"], created_at=utcnow())
        run = NodeJob(sources=["bis", ODD], node="http://node:6800", dispatched_at=utcnow())
        session.add_all([event, subscriber, run])
        session.flush()
        ids = event.id, subscriber.id, run.id

    with session_scope(engine) as session:  # a new session: read from the rows, not the objects written
        version = session.get(Version, version_id)
        assert version.headers == headers and version.evidence == evidence
        event, subscriber, run = (
            session.get(Event, ids[0]),
            session.get(Subscriber, ids[1]),
            session.get(NodeJob, ids[2]),
        )
        assert event.reasons == [ODD] and event.expectations == []
        assert (subscriber.sources, subscriber.expectations) == (["bis"], ["gp10"])
        assert run.sources == ["bis", ODD] and run.results is None
        run.results = {"bis": {"status": "ok", "note": ODD}}

    with session_scope(engine) as session:
        assert session.get(NodeJob, ids[2]).results == {"bis": {"status": "ok", "note": ODD}}
        # Stored as before: json.dumps text, ASCII only, keys sorted.
        stored = session.execute(text("SELECT headers FROM version WHERE id = :id"), {"id": version_id}).scalar_one()
        assert stored == json.dumps(headers, sort_keys=True) and stored.isascii()


def test_rows_written_as_text_before_read_as_values(engine):
    """Rows the code wrote by hand with json.dumps, in whatever key order, read the same now."""
    with session_scope(engine) as session:
        document = _document(session)
        blob = put_blob(session, b"raw")
    with engine.begin() as connection:
        # Without evidence: the column's server default, as for versions stored before it existed.
        connection.execute(
            text(
                "INSERT INTO version (document_id, number, fetched_at, url, final_url, status, headers, sha256,"
                " content_type, content_hash, content_sha256, title, reader) VALUES (:document, 1, :now, 'u', 'u',"
                " 200, :headers, :blob, '', 'h', :blob, '', 1)"
            ),
            {
                "document": document.id,
                "now": utcnow(),
                "blob": blob,
                "headers": json.dumps({"Last-Modified": "Mon", "ETag": '"\u00e9"'}),
            },
        )
        connection.execute(
            text(
                "INSERT INTO check_run (sources, node, job, status, attempt, events_after, dispatched_at, results)"
                " VALUES (:sources, 'n', 'j', 'done', 1, 0, :now, :results)"
            ),
            {"sources": '["b", "a"]', "now": utcnow(), "results": '{"b": {"new": 1}, "a": {}}'},
        )
    with session_scope(engine) as session:
        version = session.exec(select(Version)).one()
        assert version.headers == {"Last-Modified": "Mon", "ETag": '"é"'}
        assert version.evidence == {}
        run = session.exec(select(NodeJob)).one()
        assert run.sources == ["b", "a"] and run.results == {"b": {"new": 1}, "a": {}}


def test_text_already_encoded_is_refused(engine):
    """A JSON column handed a string would store it encoded twice, and read back a string."""
    with session_scope(engine) as session:
        session.add(NodeJob(sources='["a"]', node="n", dispatched_at=utcnow()))
        with pytest.raises(StatementError, match="not its encoding"):
            session.flush()
        session.rollback()
