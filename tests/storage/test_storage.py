"""Storage on SQLite and PostgreSQL alike (the database_url fixture runs both)."""

from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from storage.blobs import get_blob, put_blob, sha256_hex
from storage.db import (
    SCHEMA_REVISION,
    DatabaseError,
    insert_if_absent,
    insert_row,
    open_database,
    session_scope,
    utcnow,
)
from storage.models import AdminAuthFailure, Blob, Document, Event, Setting, Source, Subscriber, Version
from storage.repository import (
    active_subscribers,
    documents_with_latest,
    ensure_source,
    find_document,
    forget_auth_failures,
    get_subscriber,
    iter_events,
    latest_validators,
    list_events,
    recent_auth_failures,
    require_row,
    stored_id,
)


@pytest.fixture
def engine(database_url):
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def add_document(session, source, key, url=None):
    now = utcnow()
    document = Document(source_id=source.id, key=key, url=url or key, title=key, first_seen_at=now, last_seen_at=now)
    session.add(document)
    session.flush()
    return document


def add_version(session, document, number, headers):
    sha = put_blob(session, f"raw {document.id} {number}".encode())
    version = Version(
        document_id=document.id,
        number=number,
        fetched_at=utcnow(),
        url=document.url,
        final_url=document.url,
        status=200,
        headers=headers,
        sha256=sha,
        content_hash=f"h{number}",
        content_sha256=sha,
    )
    session.add(version)
    document.latest_version = number
    session.flush()
    return version


def test_migrations_create_the_schema_and_reopening_is_harmless(engine, database_url):
    tables = set(inspect(engine).get_table_names())
    assert {"source", "document", "version", "blob", "event", "alembic_version"} <= tables
    again = open_database(database_url)
    with again.connect() as connection:
        current = connection.execute(text("select version_num from alembic_version")).scalar()
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert [current] == heads == [SCHEMA_REVISION]  # a new migration must raise SCHEMA_REVISION too
    again.dispose()


def test_a_database_behind_the_newest_migration_is_upgraded_on_open(engine, database_url):
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert "check_run" not in inspect(engine).get_table_names()
    open_database(database_url).dispose()
    assert "check_run" in inspect(engine).get_table_names()


def test_0011_adds_the_failure_reason_to_a_0010_database_keeping_its_sources(engine, database_url):
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
    assert "last_failure_reason" not in {c["name"] for c in inspect(engine).get_columns("source")}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO source (name, kind, last_error, consecutive_failures, health_alerted)"
                " VALUES ('bis', 'page', 'HTTP 503', 2, false)"
            )
        )
    open_database(database_url).dispose()  # upgrades to the newest
    [column] = [c for c in inspect(engine).get_columns("source") if c["name"] == "last_failure_reason"]
    assert column["nullable"]
    with session_scope(engine) as session:
        source = session.exec(select(Source)).one()
        assert (source.name, source.last_error, source.last_failure_reason) == ("bis", "HTTP 503", None)
        source.last_failure_reason = "http_status"
    with session_scope(engine) as session:
        assert session.exec(select(Source)).one().last_failure_reason == "http_status"


def test_0013_adds_the_channel_tables_to_a_0012_database_and_removes_them_on_downgrade(engine, database_url):
    from alembic import command

    from storage.models import Channel, ChannelDelivery

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
    assert not {"channel", "channel_delivery"} & set(inspect(engine).get_table_names())
    open_database(database_url).dispose()  # upgrades to the newest
    assert {"channel", "channel_delivery"} <= set(inspect(engine).get_table_names())
    now = utcnow()
    with session_scope(engine) as session:
        source = ensure_source(session, "bis", "page")
        document = add_document(session, source, "https://www.bis.gov/a")
        event = Event(kind="new", source_id=source.id, document_id=document.id, to_version=1, detected_at=now)
        channel = Channel(name="legal-slack", scheme="slack", sources=["bis"], created_at=now)
        session.add_all([event, channel])
        session.flush()
        session.add(ChannelDelivery(event_id=event.id, channel_id=channel.id, next_attempt_at=now, created_at=now))
    with session_scope(engine) as session:
        [row] = session.exec(select(ChannelDelivery)).all()
        assert (row.status, row.attempts, row.claimed_by) == ("pending", 0, None)
        assert session.exec(select(Channel)).one().sources == ["bis"]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
    assert not {"channel", "channel_delivery"} & set(inspect(engine).get_table_names())


def test_0012_adds_an_empty_redline_cache_to_a_0011_database(engine, database_url):
    from alembic import command

    from storage.models import RedlineCache
    from storage.redline_cache import cached_redline, keep_redline

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    assert "redline_cache" not in set(inspect(engine).get_table_names())
    open_database(database_url).dispose()  # upgrades to the newest
    with session_scope(engine) as session:
        assert session.exec(select(RedlineCache)).all() == []
        source = ensure_source(session, "bis", "page")
        document = add_document(session, source, "https://www.bis.gov/a")
        keep_redline(session, document.id, 1, 2, "1", '{"hunks": []}')
        keep_redline(session, document.id, 1, 2, "1", '{"hunks": ["a second writer loses"]}')
    with session_scope(engine) as session:
        assert cached_redline(session, document.id, 1, 2, "1") == '{"hunks": []}'


DESK_TABLES = {"user_account", "sign_in_link", "user_session", "sign_in_failure", "review", "review_note", "audit_log"}


def test_0014_adds_the_review_desk_to_a_0013_database_keeping_its_events(engine, database_url):
    from alembic import command

    from storage.models import AuditEntry, Review, ReviewNote, UserAccount

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    assert not DESK_TABLES & set(inspect(engine).get_table_names())
    with session_scope(engine) as session:
        source = ensure_source(session, "bis", "page")
        document = add_document(session, source, "https://www.bis.gov/a")
        session.add(
            Event(kind="changed", source_id=source.id, document_id=document.id, severity="minor", detected_at=utcnow())
        )
    open_database(database_url).dispose()  # upgrades to the newest
    assert set(inspect(engine).get_table_names()) >= DESK_TABLES
    now = utcnow()
    with session_scope(engine) as session:
        event = session.exec(select(Event)).one()
        session.add(UserAccount(email="a@example.com", role="reviewer", created_at=now))
        session.add(Review(event_id=event.id, status="reviewed", reviewed_by="a@example.com", reviewed_at=now))
        session.add(ReviewNote(event_id=event.id, author="a@example.com", written_at=now, text="ok\x00 \ud800"))
        session.add(AuditEntry(at=now, actor="a@example.com", action="review", event_id=event.id, to_status="reviewed"))
    with session_scope(engine) as session:
        assert session.exec(select(Review)).one().status == "reviewed"
        assert session.exec(select(ReviewNote)).one().text == "ok \ufffd"  # stored as both databases can
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(UserAccount(email="a@example.com", role="viewer", created_at=now))  # one account per address


def _alembic_config():
    from alembic.config import Config

    from storage.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def test_identical_bytes_are_stored_once_and_compressed(engine):
    body = b"<p>The same page</p>" * 500
    with session_scope(engine) as session:
        first = put_blob(session, body)
        second = put_blob(session, body)
    with session_scope(engine) as session:
        assert first == second == sha256_hex(body)
        assert len(session.exec(select(Blob)).all()) == 1
        stored = session.get(Blob, first)
        assert stored.size == len(body) and len(stored.data) < len(body) / 10
        assert get_blob(session, first) == body


def test_insert_if_absent_keeps_the_first_row(engine):
    with session_scope(engine) as session:
        assert insert_if_absent(session, Setting, ["key"], {"key": "k", "value": "first"})
        assert not insert_if_absent(session, Setting, ["key"], {"key": "k", "value": "second"})
    with session_scope(engine) as session:  # a later transaction, as another process would be
        assert not insert_if_absent(session, Setting, ["key"], {"key": "k", "value": "third"})
        assert insert_if_absent(session, Setting, ["key"], {"key": "other", "value": "fourth"})
    with session_scope(engine) as session:
        assert [(row.key, row.value) for row in session.exec(select(Setting).order_by(Setting.key))] == [
            ("k", "first"),
            ("other", "fourth"),
        ]


def test_insert_row_writes_every_value_and_gives_the_id(engine):
    now = utcnow()
    with session_scope(engine) as session:
        source = ensure_source(session, "s", "page")
        document = Document(source_id=source.id, key="k", url="u", first_seen_at=now, last_seen_at=now)
        first = insert_row(session, document)
        event = Event(kind="new", source_id=source.id, document_id=first, reasons=["a <b>"], detected_at=now)
        assert insert_row(session, event) == event.id and first == document.id
        assert document not in session and event not in session  # written, not tracked
    with session_scope(engine) as session:
        stored = session.get(Event, event.id)
        assert (stored.kind, stored.document_id, stored.reasons, stored.expectations) == ("new", first, ["a <b>"], [])
        assert stored.detected_at == now and stored.baseline is False
        assert session.get(Document, first).title == ""  # the column's default


def test_times_come_back_as_aware_utc(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "s", "page")
        source.last_checked_at = utcnow()
    with session_scope(engine) as session:
        moment = ensure_source(session, "s", "page").last_checked_at
        assert moment.utcoffset() == timedelta(0)


def test_a_row_by_id_or_a_clear_error_and_the_id_only_of_a_written_row(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "s", "page")
        source_id = stored_id(source)
        assert require_row(session, Source, source_id) is source
        with pytest.raises(LookupError, match="no Source row with id 999"):
            require_row(session, Source, 999)
        unwritten = Source(name="t", kind="page")
        with pytest.raises(LookupError, match="Source has no id: it is not written"):
            stored_id(unwritten)
        session.add(unwritten)
        session.flush()
        assert stored_id(unwritten) not in (None, source_id)


def test_find_document_by_id_key_or_url(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "fr", "federal_register")
        document = add_document(session, source, "2025-00636", url="https://www.federalregister.gov/d/2025-00636")
    with session_scope(engine) as session:
        for ref in (str(document.id), "2025-00636", "https://www.federalregister.gov/d/2025-00636"):
            assert find_document(session, ref).id == document.id
        assert find_document(session, "nothing") is None


def test_documents_with_latest_reads_each_document_with_its_latest_version(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "p", "page")
        other_source = ensure_source(session, "q", "page")
        document = add_document(session, source, "http://h/p")
        add_version(session, document, 1, {})
        add_version(session, document, 2, {})
        unversioned = add_document(session, source, "http://h/q")
        elsewhere = add_document(session, other_source, "http://h/p")
    with session_scope(engine) as session:
        wanted = [(source.id, "http://h/p"), (source.id, "http://h/q"), (source.id, "http://h/none")]
        found = documents_with_latest(session, wanted)
        assert sorted(found) == [(source.id, "http://h/p"), (source.id, "http://h/q")]
        assert (found[(source.id, "http://h/p")][0].id, found[(source.id, "http://h/p")][1].number) == (document.id, 2)
        assert found[(source.id, "http://h/q")] == (session.get(Document, unversioned.id), None)
        assert elsewhere.id not in {row.id for row, _ in found.values()}  # the same key, another source


def test_validators_come_from_each_documents_latest_version(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "p", "page")
        document = add_document(session, source, "http://h/p")
        add_version(session, document, 1, {"ETag": '"v1"'})
        add_version(session, document, 2, {"ETag": '"v2"', "Last-Modified": "Tue, 20 May 2025 10:00:00 GMT"})
        other = add_document(session, source, "http://h/q")
        add_version(session, other, 1, {"Content-Type": "text/html"})
    with session_scope(engine) as session:
        assert latest_validators(session, source.id) == {
            "http://h/p": {"etag": '"v2"', "last_modified": "Tue, 20 May 2025 10:00:00 GMT"}
        }


def test_events_newest_first_and_severity_filter_keeps_other_events(engine):
    with session_scope(engine) as session:
        source = ensure_source(session, "p", "page")
        document = add_document(session, source, "http://h/p")
        base = utcnow()
        for minutes, kind, severity in [
            (0, "new", None),
            (0, "new", "baseline"),
            (1, "changed", "cosmetic"),
            (2, "changed", "minor"),
            (3, "changed", "substantive"),
            (4, "removed", None),
        ]:
            session.add(
                Event(
                    kind=kind,
                    severity=None if severity == "baseline" else severity,
                    baseline=severity == "baseline",
                    source_id=source.id,
                    document_id=document.id,
                    detected_at=base + timedelta(minutes=minutes),
                )
            )
    with session_scope(engine) as session:
        events = list_events(session)
        assert [e.kind for e in events] == ["removed", "changed", "changed", "changed", "new", "new"]
        kept = list_events(session, severities=["minor", "substantive"], baseline=False)
        assert [(e.kind, e.severity) for e in kept] == [
            ("removed", None),
            ("changed", "substantive"),
            ("changed", "minor"),
            ("new", None),
        ]
        assert [e.id for e in iter_events(session, severities=["minor", "substantive"], baseline=False)] == [
            e.id for e in kept
        ]
        assert [e.baseline for e in list_events(session, kinds=["new"], baseline=True)] == [True]
        assert len(list_events(session, since=base + timedelta(minutes=3))) == 2
        assert len(list_events(session, kinds=["changed"], limit=2)) == 2


def test_subscribers_and_admin_sign_in_failures(engine):
    now = utcnow()
    with session_scope(engine) as session:
        session.add(Subscriber(email="a@example.com", created_at=now))
        session.add(Subscriber(email="b@example.com", active=False, created_at=now))
        for minutes in (1, 2, 30):
            session.add(AdminAuthFailure(client="10.0.0.1", at=now - timedelta(minutes=minutes)))
        session.add(AdminAuthFailure(client="10.0.0.2", at=now))
    with session_scope(engine) as session:
        assert get_subscriber(session, "b@example.com").active is False
        assert get_subscriber(session, "B@example.com") is None  # addresses are looked up as normalized
        assert [s.email for s in active_subscribers(session)] == ["a@example.com"]
        recent = recent_auth_failures(session, "10.0.0.1", since=now - timedelta(minutes=15), limit=5)
        assert recent == [now - timedelta(minutes=1), now - timedelta(minutes=2)]
        assert len(recent_auth_failures(session, "10.0.0.1", since=now - timedelta(hours=1), limit=2)) == 2
        forget_auth_failures(session, until=now - timedelta(minutes=2))
    with session_scope(engine) as session:
        assert len(recent_auth_failures(session, "10.0.0.1", since=now - timedelta(hours=1), limit=5)) == 1
        assert len(recent_auth_failures(session, "10.0.0.2", since=now - timedelta(hours=1), limit=5)) == 1


def test_an_unusable_database_is_a_clear_error(tmp_path):
    with pytest.raises(DatabaseError, match="check \\[database\\] url"):
        open_database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseError, match="invalid database URL"):
        open_database("not a url")


def test_sqlite_file_and_folder_are_created_with_wal(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'deep' / 'folder' / 'r.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert (tmp_path / "deep" / "folder" / "r.db").exists()
    engine.dispose()
