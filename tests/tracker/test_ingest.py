"""Ingest never drops a document in silence, on SQLite and PostgreSQL.

What a database refuses (NUL, lone surrogates, a key longer than an index can hold)
is stored in a form it accepts; what cannot be read at all (JSON nested too deeply,
a parser stuck past the per-document budget, the database itself refusing) is a
recorded failure of the source with a one-line reason, and the check goes on.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.exc import DataError
from sqlmodel import col, select

from storage.db import open_database, session_scope, utcnow
from storage.models import Blob, Document, Event, Source, Version
from storage.repository import KEY_BYTES
from tests.conftest import FILES
from tracker import ingest as ingest_module
from tracker.config import load_config
from tracker.health import failure_reason, is_failing
from tracker.ingest import Ingestor, ReadSnapshot, ingest_reads
from tracker.items import FailureReason, FetchFailed, Snapshot
from tracker.kinds.page import content as page_reader
from tracker.outcomes import ReadingBudget, read_snapshot
from tracker.reading.body import READER
from tracker.stored import load_content

PAGE = (FILES / "pages" / "guidance_v1.html").read_bytes()
FR_RECORD = json.loads((FILES / "federal_register" / "2025-00636.json").read_text(encoding="utf-8"))


@pytest.fixture
def sources(write_config):
    config = load_config(
        write_config(
            """
            [[sources]]
            name = "page"
            kind = "page"
            url = "https://www.bis.gov/guidance"

            [[sources]]
            name = "federal-register"
            kind = "federal_register"
            base_url = "https://www.federalregister.gov"
            agencies = ["industry-and-security-bureau"]
            """
        )
    )
    engine = open_database(config.database_url)

    def ingestor(name: str, **options) -> Ingestor:
        return Ingestor(engine, config.source(name), progress=lambda line: None, **options)

    ingestor.engine = engine
    return ingestor


def page_snapshot(body: bytes, url: str = "https://www.bis.gov/guidance", content_type: str = "text/html") -> Snapshot:
    return Snapshot(
        source="page",
        key=url,
        url=url,
        final_url=url,
        status=200,
        headers={"Content-Type": content_type},
        body=body,
        fetched_at=utcnow(),
    )


def fr_snapshot(record: dict) -> Snapshot:
    return Snapshot(
        source="federal-register",
        key=record["document_number"],
        url=record["html_url"],
        final_url=record["html_url"],
        status=200,
        headers={"Content-Type": "application/json"},
        body=json.dumps(record).encode(),
        fetched_at=utcnow(),
        extra={"format": "federal_register", "stage": "published"},
    )


def stored(engine) -> tuple[list[Document], list[Version]]:
    with session_scope(engine) as session:
        return session.exec(select(Document)).all(), session.exec(select(Version)).all()


def source_row(engine, name: str) -> Source:
    with session_scope(engine) as session:
        return session.exec(select(Source).where(Source.name == name)).one()


def test_a_lone_surrogate_in_fr_fields_is_stored_replaced_not_dropped(sources):
    record = {**FR_RECORD, "title": "Framework for \ud800 Diffusion"}
    ingestor = sources("federal-register")
    event = ingestor.ingest_snapshot(fr_snapshot(record))
    tally = ingestor.finish()
    assert event is not None and event.kind == "new" and tally.failures == []
    [document], [version] = stored(sources.engine)
    assert document.title == "Framework for \ufffd Diffusion"
    with session_scope(sources.engine) as session:
        assert load_content(session, version).title == "Framework for \ufffd Diffusion"


def test_a_nul_in_fr_fields_is_stored_without_it(sources):
    record = {**FR_RECORD, "title": "Framework\x00 for AI", "abstract": "The rule\x00 is rescinded."}
    ingestor = sources("federal-register")
    assert ingestor.ingest_snapshot(fr_snapshot(record)) is not None
    assert ingestor.finish().failures == []
    [document], [version] = stored(sources.engine)
    assert document.title == "Framework for AI"
    with session_scope(sources.engine) as session:
        text = load_content(session, version).text()
    assert "The rule is rescinded." in text and "\x00" not in text


def test_a_nul_in_page_text_is_stored_without_it(sources):
    ingestor = sources("page")
    body = (
        b"<html><head><title>Guid\x00ance</title></head><body><main><p>Licence\x00 required.</p></main></body></html>"
    )
    assert ingestor.ingest_snapshot(page_snapshot(body, content_type="text/html; charset=utf-8")) is not None
    assert ingestor.finish().failures == []
    [document], _ = stored(sources.engine)
    assert "\x00" not in document.title and document.title.startswith("Guid")  # HTML reads NUL as U+FFFD


def test_a_url_longer_than_any_index_is_stored_and_found_again(sources):
    url = "https://www.bis.gov/guidance?q=" + "x" * 5000
    first = sources("page")
    assert first.ingest_snapshot(page_snapshot(PAGE, url=url)) is not None
    first.finish()
    [document], [version] = stored(sources.engine)
    assert document.url == url and version.url == url
    assert len(document.key.encode()) <= KEY_BYTES and document.key.startswith("https://www.bis.gov/guidance?q=xxx")

    again = sources("page")
    assert again.ingest_snapshot(page_snapshot(PAGE, url=url)) is None  # the same document, unchanged
    assert again.finish().failures == []
    documents, versions = stored(sources.engine)
    assert len(documents) == 1 and len(versions) == 1


def test_json_nested_too_deeply_is_a_recorded_failure_with_its_reason(sources):
    ingestor = sources("page")
    deep = b"[" * 200_000 + b"]" * 200_000
    assert ingestor.ingest_snapshot(page_snapshot(deep, content_type="application/json")) is None
    tally = ingestor.finish()
    [reason] = tally.failures
    assert "nested too deeply" in reason and "raw bytes kept" in reason
    assert len(reason) < 500
    assert stored(sources.engine) == ([], [])
    row = source_row(sources.engine, "page")
    assert row.last_error and "nested too deeply" in row.last_error
    assert row.last_failure_reason == FailureReason.UNREADABLE


def test_a_database_refusal_is_a_one_line_failure_without_the_body(sources, monkeypatch):
    secret_body = "BODY-" * 10_000

    def refuse(*args, **kwargs):
        raise DataError(
            "INSERT INTO blob ...", {"data": secret_body}, ValueError("value too long\nDETAIL: " + secret_body)
        )

    monkeypatch.setattr(ingest_module, "put_blob", refuse)
    ingestor = sources("page")
    assert ingestor.ingest_snapshot(page_snapshot(PAGE)) is None
    [reason] = ingestor.finish().failures
    assert "could not be stored" in reason and "value too long" in reason
    assert "\n" not in reason and "BODY-BODY" not in reason
    assert stored(sources.engine) == ([], [])  # nothing half-stored
    assert source_row(sources.engine, "page").last_failure_reason == FailureReason.NOT_STORED


def read_outcome(ingestor: Ingestor, snapshot: Snapshot) -> ReadSnapshot:
    """A snapshot as the service receives it from its crawl process: read already."""
    budget = ReadingBudget(ingestor.document_budget)
    return ReadSnapshot(ingestor, snapshot, read_snapshot(ingestor.kind, snapshot, ingestor.source, budget), budget)


def test_a_batch_stores_each_document_or_records_its_failure_alone(sources, monkeypatch):
    """The service stores a crawl's snapshots in one transaction; a document the database
    refuses is rolled back alone, a document that cannot be read is refused as ever."""
    real_put_blob = ingest_module.put_blob

    def refuse_one(session, data, base=None, unstored=frozenset()):
        if b"REFUSED" in data:
            raise DataError("INSERT INTO blob ...", {}, ValueError("value too long"))
        return real_put_blob(session, data, base=base, unstored=unstored)

    monkeypatch.setattr(ingest_module, "put_blob", refuse_one)
    ingestor = sources("page")
    urls = [f"https://www.bis.gov/guidance/{n}" for n in range(4)]
    bodies = [
        PAGE,
        PAGE.replace(b"</body>", b"<p>REFUSED</p></body>"),
        b"",
        PAGE.replace(b"</body>", b"<p>4</p></body>"),
    ]
    ingest_reads(
        sources.engine, [read_outcome(ingestor, page_snapshot(b, url)) for b, url in zip(bodies, urls, strict=True)]
    )
    tally = ingestor.finish()
    assert (tally.fetched, tally.new_versions) == (2, 2)
    assert len(tally.failures) == 2
    assert any(urls[1] in failure and "could not be stored" in failure for failure in tally.failures)
    assert any(urls[2] in failure and "empty response body" in failure for failure in tally.failures)
    documents, versions = stored(sources.engine)
    assert sorted(document.url for document in documents) == [urls[0], urls[3]]  # nothing half-stored
    assert [
        (document.latest_version, version.number) for document, version in zip(documents, versions, strict=True)
    ] == [(1, 1)] * 2


def test_a_batch_reads_what_it_stored_before_as_one_document_at_a_time_would(sources):
    """A batch reads its documents' rows and latest versions together, before storing any: a
    second snapshot of a document in the same batch still follows the first, and a body two
    documents share is stored once."""
    ingestor = sources("page")
    urls = [f"https://www.bis.gov/guidance/{n}" for n in range(3)]
    assert ingestor.ingest_snapshot(page_snapshot(PAGE, urls[0])) is not None
    changed = (FILES / "pages" / "guidance_v3_negation.html").read_bytes()
    again = sources("page")
    batch = [
        (changed, urls[0]),  # stored before the batch: changed since
        (PAGE, urls[1]),  # new
        (changed, urls[1]),  # new in this batch, then changed in it
        (PAGE, urls[2]),  # new, with the same bytes as urls[1]'s first
    ]
    ingest_reads(sources.engine, [read_outcome(again, page_snapshot(body, url)) for body, url in batch])
    tally = again.finish()
    assert (tally.fetched, tally.new_versions, tally.failures) == (4, 4, [])
    with session_scope(sources.engine) as session:
        documents = {document.url: document for document in session.exec(select(Document))}
        assert {url: document.latest_version for url, document in documents.items()} == {
            urls[0]: 2,
            urls[1]: 2,
            urls[2]: 1,
        }
        events = session.exec(select(Event).order_by(col(Event.id))).all()
        assert [(event.kind, event.document_id, event.from_version, event.to_version) for event in events] == [
            ("new", documents[urls[0]].id, None, 1),
            ("changed", documents[urls[0]].id, 1, 2),
            ("new", documents[urls[1]].id, None, 1),
            ("changed", documents[urls[1]].id, 1, 2),
            ("new", documents[urls[2]].id, None, 1),
        ]
        versions = session.exec(select(Version)).all()
        first_of = {(version.document_id, version.number): version.sha256 for version in versions}
        assert first_of[(documents[urls[1]].id, 1)] == first_of[(documents[urls[2]].id, 1)]
        assert len(session.exec(select(Blob.sha256)).all()) == len(
            {v.sha256 for v in versions} | {v.content_sha256 for v in versions}
        )


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_version_another_process_stores_during_a_batch_is_followed(sources, monkeypatch, database_url):
    """On PostgreSQL another process can commit while a batch runs (SQLite's batch holds the
    write lock): the batch compares each document with its latest version as it is then."""
    urls = ["https://www.bis.gov/guidance/a", "https://www.bis.gov/guidance/b"]

    def body(n: int) -> bytes:
        return PAGE.replace(b"</main>", f"<p>paragraph number {n}</p></main>".encode())

    first = sources("page")
    for url in urls:
        assert first.ingest_snapshot(page_snapshot(body(1), url)) is not None
    first.finish()
    other_engine = open_database(database_url)
    other = Ingestor(other_engine, first.source, progress=lambda line: None)
    real_enqueue = ingest_module.enqueue
    stored_by_other = []

    def enqueue(
        session, event, source_name
    ):  # while the batch stores the first page, another process stores the second
        if not stored_by_other:
            stored_by_other.append(None)  # first: the other process's own event comes here too
            stored_by_other[0] = other.ingest_snapshot(page_snapshot(body(3), urls[1]))
        return real_enqueue(session, event, source_name)

    monkeypatch.setattr(ingest_module, "enqueue", enqueue)
    batch = sources("page")
    try:
        ingest_reads(
            sources.engine,
            [read_outcome(batch, page_snapshot(body(n), url)) for n, url in ((2, urls[0]), (1, urls[1]))],
        )
    finally:
        other_engine.dispose()
    assert stored_by_other[0].to_version == 2
    assert batch.finish().failures == []
    with session_scope(sources.engine) as session:
        second = session.exec(select(Document).where(Document.url == urls[1])).one()
        events = session.exec(select(Event).where(Event.document_id == second.id).order_by(col(Event.id))).all()
        # The second page as first seen again, after the other process's version 2: a change, version 3.
        assert [(event.kind, event.from_version, event.to_version) for event in events] == [
            ("new", None, 1),
            ("changed", 1, 2),
            ("changed", 2, 3),
        ]


def test_a_batch_that_cannot_commit_stores_each_document_on_its_own(sources, monkeypatch):
    ingestor = sources("page")
    real_scope = ingest_module.session_scope
    batches = []

    @contextmanager
    def commit_fails_for_a_batch(engine):
        with real_scope(engine) as session:
            yield session
            if not batches:  # the first transaction: the batch's
                batches.append(session)
                raise DataError("COMMIT", {}, ValueError("disk I/O error"))

    monkeypatch.setattr(ingest_module, "session_scope", commit_fails_for_a_batch)
    urls = [f"https://www.bis.gov/guidance/{n}" for n in range(3)]
    ingest_reads(sources.engine, [read_outcome(ingestor, page_snapshot(PAGE, url)) for url in urls])
    tally = ingestor.finish()
    assert batches and (tally.fetched, tally.failures) == (3, [])
    assert sorted(document.url for document in stored(sources.engine)[0]) == urls


def test_a_comparison_past_its_budget_in_a_batch_fails_alone(sources, monkeypatch):
    ingestor = sources("page", document_budget=0.3)
    urls = [f"https://www.bis.gov/guidance/{n}" for n in range(3)]
    for url in urls:
        assert ingestor.ingest_snapshot(page_snapshot(PAGE, url)) is not None
    real_diff = ingest_module.diff_contents

    def stuck_on_one(old, new):
        while "stuck" in new.text():  # a comparison in a loop it never leaves
            time.sleep(0.01)
        return real_diff(old, new)

    monkeypatch.setattr(ingest_module, "diff_contents", stuck_on_one)
    changed = (FILES / "pages" / "guidance_v3_negation.html").read_bytes()
    bodies = [changed, changed.replace(b"</main>", b"<p>stuck</p></main>"), changed]
    again = sources("page", document_budget=0.3)
    ingest_reads(sources.engine, [read_outcome(again, page_snapshot(b, u)) for b, u in zip(bodies, urls, strict=True)])
    tally = again.finish()
    assert (tally.fetched, tally.new_versions, tally.failure_reason) == (2, 2, FailureReason.TOO_SLOW)
    [reason] = tally.failures
    assert reason.startswith(urls[1]) and "took longer than 0.3s" in reason
    documents, _ = stored(sources.engine)
    assert sorted((document.url, document.latest_version) for document in documents) == [
        (urls[0], 2),
        (urls[1], 1),  # nothing half-stored
        (urls[2], 2),
    ]


def test_a_document_past_its_budget_is_a_failure_and_the_next_one_is_read(sources, monkeypatch):
    real_read = page_reader.read

    def stuck_on_one(snapshot, source):
        if snapshot.url.endswith("/stuck"):
            while True:  # a parser in a loop it never leaves
                time.sleep(0.01)
        return real_read(snapshot, source)

    monkeypatch.setattr(page_reader, "read", stuck_on_one)
    ingestor = sources("page", document_budget=0.3)
    assert ingestor.ingest_snapshot(page_snapshot(PAGE, url="https://www.bis.gov/stuck")) is None
    assert ingestor.ingest_snapshot(page_snapshot(PAGE)) is not None
    tally = ingestor.finish()
    [reason] = tally.failures
    assert "https://www.bis.gov/stuck took longer than 0.3s to read" in reason
    [document], _ = stored(sources.engine)
    assert document.url == "https://www.bis.gov/guidance"
    assert tally.failure_reason == FailureReason.TOO_SLOW


def test_a_comparison_past_the_budget_in_the_services_thread_is_a_failure(sources, monkeypatch):
    """The service stores and compares what its crawl process read, in a thread of its own:
    there the budget is enforced by a timer thread, not SIGALRM."""
    ingestor = sources("page", document_budget=0.3)
    assert ingestor.ingest_snapshot(page_snapshot(PAGE)) is not None

    def stuck(old, new):
        while True:  # a comparison in a loop it never leaves
            time.sleep(0.01)

    monkeypatch.setattr(ingest_module, "diff_contents", stuck)
    changed = (FILES / "pages" / "guidance_v3_negation.html").read_bytes()
    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.append(ingestor.ingest_snapshot(page_snapshot(changed))), daemon=True
    )
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and outcome == [None]
    tally = ingestor.finish()
    assert tally.failure_reason == FailureReason.TOO_SLOW
    assert "took longer than 0.3s to read" in tally.failures[0]
    assert len(stored(sources.engine)[1]) == 1  # the first version only: nothing half-stored


def test_the_reason_of_the_failure_shown_is_stored_and_cleared_on_a_clean_check(sources):
    ingestor = sources("page")
    ingestor.record_failure(failure("connection refused", FailureReason.NETWORK))
    ingestor.record_failure(failure("HTTP 500", FailureReason.HTTP_STATUS))
    ingestor.finish()
    row = source_row(sources.engine, "page")
    assert row.last_error == "2 fetches failed; first: connection refused"
    assert row.last_failure_reason == "network" and failure_reason(row) is FailureReason.NETWORK

    ingestor = sources("page")
    ingestor.ingest_snapshot(page_snapshot(PAGE))
    ingestor.finish()
    row = source_row(sources.engine, "page")
    assert row.last_error is None and row.last_failure_reason is None


def test_a_held_retry_after_is_the_reason_shown_first(sources):
    ingestor = sources("page", retry_after_max=3600)
    ingestor.record_failure(failure("connection refused", FailureReason.NETWORK))
    held = replace(failure("HTTP 503", FailureReason.HTTP_STATUS), retry_after=utcnow() + timedelta(days=2))
    ingestor.record_failure(held)
    ingestor.finish()
    row = source_row(sources.engine, "page")
    assert row.last_error.startswith("2 fetches failed; first: HTTP 503; Retry-After held to 1h")
    assert row.last_failure_reason == FailureReason.RETRY_AFTER_HELD and is_failing(row)


def test_a_selector_gone_is_told_by_its_reason_not_its_words(write_config):
    config = load_config(
        write_config(
            """
            [[sources]]
            name = "narrowed"
            kind = "page"
            url = "https://www.bis.gov/guidance"
            selector = "#no-such-part"
            """
        )
    )
    engine = open_database(config.database_url)
    ingestor = Ingestor(engine, config.source("narrowed"), progress=lambda line: None)
    ingestor.ingest_snapshot(replace(page_snapshot(PAGE), source="narrowed"))
    ingestor.finish()
    row = source_row(engine, "narrowed")
    assert "matched nothing" in row.last_error
    assert row.last_failure_reason == FailureReason.SELECTOR_GONE and is_failing(row)

    # The same words from another reason (here a server's own message) are not a selector gone.
    ingestor = Ingestor(engine, config.source("narrowed"), progress=lambda line: None)
    ingestor.record_failure(
        replace(failure("HTTP 500: the query matched nothing", FailureReason.HTTP_STATUS), source="narrowed")
    )
    ingestor.finish()
    row = source_row(engine, "narrowed")
    assert "matched nothing" in row.last_error and row.last_failure_reason == FailureReason.HTTP_STATUS
    assert row.consecutive_failures == 2 and not is_failing(row)


def failure(error: str, reason: FailureReason) -> FetchFailed:
    url = "https://www.bis.gov/guidance"
    return FetchFailed("page", url, url, utcnow(), error=error, reason=reason)


GENERIC_TITLE = "Press release | Bureau of Industry and Security"


def ingest_with_an_older_reader(sources, monkeypatch, body: bytes) -> None:
    """Version 1 as the reader before this one stored it: it took the page's generic <title>."""
    real_read = page_reader.read
    with monkeypatch.context() as patched:
        patched.setattr(ingest_module, "READER", 1)
        patched.setattr(
            page_reader, "read", lambda snapshot, source: replace(real_read(snapshot, source), title=GENERIC_TITLE)
        )
        ingestor = sources("page")
        ingestor.ingest_snapshot(page_snapshot(body))
        ingestor.finish()


def test_an_updated_reader_alone_is_never_a_substantive_change(sources, monkeypatch):
    ingest_with_an_older_reader(sources, monkeypatch, PAGE)
    ingestor = sources("page")
    event = ingestor.ingest_snapshot(page_snapshot(PAGE))  # the same bytes, read by today's reader
    ingestor.finish()
    assert event.kind == "changed" and event.severity == "cosmetic"
    assert event.reasons == ["read again by Rulewatch's updated reader: the document is as in version 1"]
    with session_scope(sources.engine) as session:
        assert [v.reader for v in session.exec(select(Version).order_by(Version.number))] == [1, READER]
    again = sources("page")
    assert again.ingest_snapshot(page_snapshot(PAGE)) is None  # read alike from now on


def test_a_real_change_after_a_reader_update_is_judged_on_the_document_alone(sources, monkeypatch):
    ingest_with_an_older_reader(sources, monkeypatch, PAGE)
    ingestor = sources("page")
    event = ingestor.ingest_snapshot(page_snapshot((FILES / "pages" / "guidance_v3_negation.html").read_bytes()))
    ingestor.finish()
    reasons = event.reasons
    assert event.severity == "substantive" and any("negation" in reason for reason in reasons)
    assert not any("title" in reason.lower() for reason in reasons)


# --- adversarial pass (issue 10): what still breaks --------------------------------------

MOJIBAKE_PAGE = (
    "<html><head><title>Guidance</title></head><body><main>"
    "<h1>Guidance on \u00a7 744.23</h1>"
    "<p>Exporters can\u2019t ship items under \u00a7 744.23(a) \u2014 they must apply for a license.</p>"
    "</main></body></html>"
).encode("utf-8")


def test_the_same_bytes_under_a_wrong_latin1_header_raise_no_substantive_change(sources):
    first = sources("page")
    assert first.ingest_snapshot(page_snapshot(MOJIBAKE_PAGE, content_type="text/html; charset=utf-8")) is not None
    first.finish()
    # The very same bytes, the server's header now wrong (Apache's old AddDefaultCharset).
    again = sources("page")
    event = again.ingest_snapshot(page_snapshot(MOJIBAKE_PAGE, content_type="text/html; charset=ISO-8859-1"))
    again.finish()
    assert event is None or event.severity != "substantive", event.reasons


def test_the_same_bytes_read_under_another_charset_are_a_cosmetic_change(sources):
    latin1 = "<html><body><main><p>Exporters must not ship to M\u00fcnchen \u00a7 744.23.</p></main></body></html>"
    body = latin1.encode("latin-1")  # not UTF-8: the header decides how it reads
    first = sources("page")
    first.ingest_snapshot(page_snapshot(body, content_type="text/html; charset=windows-1252"))
    first.finish()
    again = sources("page")
    event = again.ingest_snapshot(page_snapshot(body, content_type="text/html; charset=koi8-r"))
    again.finish()
    assert event.severity == "cosmetic"
    assert event.reasons == [
        "the same bytes as version 1, read differently "
        "(Content-Type 'text/html; charset=windows-1252' → 'text/html; charset=koi8-r')"
    ]
