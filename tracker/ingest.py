"""The one place that turns a fetch outcome into versions and events.

A Snapshot is normalized and compared with the document's latest version: the
same normalized content stores nothing; different content stores a version and
an event (`new`, or `changed` with a severity and reasons) in one transaction.
Failures are recorded on the source and never become versions; a document
gone (404/410) on `removed_after` consecutive checks becomes `removed`.

Nothing is dropped in silence: whatever goes wrong while one document is read or
stored (a parser's error, a value the database refuses, a reading that runs past
the per-document budget) is rolled back and becomes a recorded failure of its
source, naming the document's URL with a one-line reason, and the check goes on
with the other documents.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy import tuple_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.blobs import put_blob, sha256_hex, unstored_blobs
from storage.db import in_chunks, insert_if_absent, insert_row, session_scope, utcnow
from storage.models import (
    Document,
    Event,
    ExpectationMet,
    Source,
    Version,
)
from storage.repository import (
    documents_with_latest,
    ensure_source,
    get_document,
    get_version,
    require_row,
    stored_id,
    stored_key,
)
from storage.search import index_versions
from tracker.alerts.outbox import enqueue
from tracker.compare import keep_comparison
from tracker.expectations import fr_citations, newly_met, thread_citations, threaded, threads_citing
from tracker.health import retry_after_held
from tracker.items import FailureReason, FetchFailed, ListingRead, NotModified, Snapshot
from tracker.kinds import kind_of
from tracker.kinds.base import Signal
from tracker.outcomes import DocumentTooSlow, ReadingBudget, Refused, read_snapshot, too_slow
from tracker.printable import describe_error, printable
from tracker.reading.body import READER
from tracker.reading.content import Content, content_hash
from tracker.redline.compute import diff_contents
from tracker.settings import ExpectationConfig, FetchConfig, SourceConfig
from tracker.severity import assess
from tracker.severity.model import Assessment
from tracker.stored import load_content, stored_snapshot


@dataclass
class CheckTally:
    """What one check of one source did, for the summary and the source's health."""

    fetched: int = 0
    unchanged: int = 0
    listings: int = 0  # searches or listings read, even when they listed nothing
    new_versions: int = 0
    failures: list[str] = field(default_factory=list)
    failure_reason: FailureReason | None = None  # of failures[0], the failure the source's health shows
    last_status: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.fetched + self.unchanged + self.listings > 0


class Ingestor:
    """Receives the fetch outcomes of one check of one source."""

    def __init__(
        self,
        engine: Engine,
        source: SourceConfig,
        progress: Callable[[str], None] | None = None,
        expectations: tuple[ExpectationConfig, ...] = (),
        row: Source | None = None,
        document_budget: float = FetchConfig.document_budget,
        retry_after_max: int = FetchConfig.retry_after_max,
    ):
        """`row`: the source's row, when the caller has just read it (saves a transaction).
        `document_budget`: seconds one document may take to be read and compared ([fetch]).
        `retry_after_max`: the longest wait a server's Retry-After may impose ([fetch])."""
        self.engine = engine
        self.source = source
        self.kind = kind_of(source.kind)
        self.expectations = expectations
        self.document_budget = document_budget
        self.retry_after_max = retry_after_max
        show = progress or (lambda line: print(line, file=sys.stderr, flush=True))
        self.progress = lambda line: show(printable(line))  # fetched titles and URLs, escaped
        self.tally = CheckTally()
        self.not_modified: list[str] = []  # keys of documents answered 304, marked seen in finish()
        self._thread_citations: dict[str, set[str]] | None = None  # read once a check, when needed
        if row is None:
            with session_scope(engine) as session:
                row = ensure_source(session, source.name, source.kind)
        self.source_id = stored_id(row)
        self.baseline = row.baseline_at is None

    def handle(self, item: Snapshot | NotModified | FetchFailed) -> None:
        if isinstance(item, Snapshot):
            self.ingest_snapshot(item)
        elif isinstance(item, NotModified):
            self.tally.unchanged += 1
            self.not_modified.append(item.key)
            self.progress(f"  {self.source.name}: {item.url} not modified")
        elif isinstance(item, FetchFailed):
            self.record_failure(item)
        elif isinstance(item, ListingRead):
            self.tally.listings += 1
        else:
            raise TypeError(f"unexpected item {item!r}")

    def ingest_snapshot(self, snapshot: Snapshot) -> Event | None:
        """Read the snapshot and store what it says; anything going wrong is a recorded failure."""
        budget = ReadingBudget(self.document_budget)
        return self.ingest_read(snapshot, read_snapshot(self.kind, snapshot, self.source, budget), budget)

    def ingest_read(self, snapshot: Snapshot, read: Content | Refused, budget: ReadingBudget) -> Event | None:
        """Store a snapshot already read (here, or in a crawl process): its version and event, or
        its refusal; `budget` holds what is left of the document's seconds for the comparison."""
        if isinstance(read, Refused):
            self._refuse(snapshot, read.error, read.reason)
            return None
        try:
            with session_scope(self.engine) as session:  # rolled back whole on any error
                searchable: list[tuple[int, dict]] = []
                event = self._store(session, snapshot, read, budget, searchable, Lookups())
                index_versions(session, searchable)
        except (DocumentTooSlow, Exception) as exc:
            self._not_stored(snapshot, budget, exc)
            return None
        self._tally_stored(snapshot, event)
        return event

    def _not_stored(self, snapshot: Snapshot, budget: ReadingBudget, exc: BaseException) -> None:
        if isinstance(exc, DocumentTooSlow):
            self._refuse(snapshot, too_slow(snapshot, budget), FailureReason.TOO_SLOW)
        else:
            self._fail(snapshot, f"{snapshot.url} could not be stored: {describe_error(exc)}", FailureReason.NOT_STORED)

    def _tally_stored(self, snapshot: Snapshot, event: Event | None) -> None:
        self.tally.fetched += 1
        self.tally.last_status = snapshot.status
        if event is None:
            self.progress(f"  {self.source.name}: {snapshot.url} unchanged")
        else:
            self.tally.new_versions += 1
            detail = f" ({event.severity})" if event.severity else ""
            self.progress(f"  {self.source.name}: {snapshot.url} {event.kind}{detail}, version {event.to_version}")

    def _refuse(self, snapshot: Snapshot, error: str, reason: FailureReason) -> None:
        """A document that could not be read: a failure, with its raw bytes kept as evidence."""
        try:
            with session_scope(self.engine) as session:
                document = get_document(session, self.source_id, snapshot.key)
                previous = get_version(session, stored_id(document), document.latest_version) if document else None
                # Kept as a delta against the previous version's raw bytes when that is smaller.
                raw_sha = put_blob(session, snapshot.body, base=previous.sha256 if previous else None)
            error += f" (raw bytes kept, sha256 {raw_sha[:12]}…)"
        except Exception as exc:
            error += f" (raw bytes not kept: {describe_error(exc)})"
        self._fail(snapshot, error, reason)

    def _fail(self, snapshot: Snapshot, error: str, reason: FailureReason) -> None:
        self.record_failure(
            FetchFailed(
                snapshot.source,
                snapshot.key,
                snapshot.url,
                snapshot.fetched_at,
                error=error,
                reason=reason,
                status=snapshot.status,
            )
        )

    def _store(
        self,
        session: Session,
        snapshot: Snapshot,
        content: Content,
        budget: ReadingBudget,
        searchable: list[tuple[int, dict]],
        lookups: Lookups,
    ) -> Event | None:
        """Store the snapshot's version and event, if any; the version's id and stored content
        join `searchable`, for the caller to index in the same transaction."""
        digest = content_hash(content)
        document, previous = lookups.document(session, self.source_id, snapshot.key)
        # Kept as a delta against the previous version's raw bytes when that is smaller.
        raw_sha = put_blob(
            session, snapshot.body, base=previous.sha256 if previous else None, unstored=lookups.unstored_blobs
        )
        new_document = document is None
        if document is None:
            document = Document(
                source_id=self.source_id,
                key=stored_key(snapshot.key),
                url=snapshot.url,
                title=content.title or snapshot.title_hint,
                first_seen_at=snapshot.fetched_at,
                last_seen_at=utcnow(),
                latest_version=1,  # the version stored below
            )
            insert_row(session, document)  # complete as written: it stays out of the session
        else:
            mark_seen(document)
        if previous is not None and previous.content_hash == digest:
            return None
        if previous is not None and self.kind.older_copy(previous.evidence, snapshot.extra):
            return None

        evidence = _evidence(session, snapshot)
        stored_content = content.to_json()
        version = Version(
            document_id=stored_id(document),
            number=1 if new_document else document.latest_version + 1,
            fetched_at=snapshot.fetched_at,
            url=snapshot.url,
            final_url=snapshot.final_url,
            status=snapshot.status,
            headers=dict(snapshot.headers),
            sha256=raw_sha,
            content_type=snapshot.content_type[:200],
            content_hash=digest,
            content_sha256=put_blob(
                session,
                json.dumps(stored_content, sort_keys=True).encode(),
                base=previous.content_sha256 if previous else None,
            ),
            title=content.title,
            evidence=evidence,
            reader=READER,
        )
        insert_row(session, version)
        searchable.append((stored_id(version), stored_content))
        if not new_document:  # a new document was written with these
            document.latest_version = version.number
            document.url = snapshot.url  # e.g. a filing's public-inspection page, then its published one
            document.title = content.title or document.title or snapshot.title_hint

        if previous is None:
            event = Event(
                kind="new",
                source_id=self.source_id,
                document_id=stored_id(document),
                to_version=version.number,
                baseline=self.baseline,
                summary=f"first seen: {document.title or document.url}",
                detected_at=utcnow(),
            )
        else:
            with budget.running():
                assessment = self._assess(session, previous, version, content)
            event = Event(
                kind="changed",
                source_id=self.source_id,
                document_id=stored_id(document),
                from_version=previous.number,
                to_version=version.number,
                severity=assessment.severity,
                reasons=list(assessment.reasons),
                summary=assessment.reasons[0] if assessment.reasons else assessment.severity,
                detected_at=utcnow(),
            )
        named = threaded(self.expectations, content)
        if self.kind.published_as and named:  # a thread may gain a citation
            self._thread_citations = None
        cited = fr_citations(content) if self.expectations else set()
        if cited:
            named += [name for name in threads_citing(self._citations(session), cited) if name not in named]
        event.expectations = named
        signal = None
        if not self.baseline:
            signal = self.kind.signal_of(previous.evidence if previous else None, snapshot.extra, content)
        if signal is not None and signal.note:  # "Filed for public inspection: FR Doc …" says what this is
            event.reasons = [signal.reason, *event.reasons]
            event.summary = signal.reason
        insert_row(session, event)
        enqueue(session, event, self.source.name)
        if signal is not None:
            self._meet_expectations(session, event, version, content, signal)
        return event

    def _citations(self, session: Session) -> dict[str, set[str]]:
        if self._thread_citations is None:
            self._thread_citations = thread_citations(session, self.expectations)
        return self._thread_citations

    def _assess(self, session: Session, previous: Version, version: Version, content: Content) -> Assessment:
        """The change since the previous version, judged on the document alone: a version read
        by an older reader is read again first, and the same bytes read differently (a changed
        charset header) are cosmetic, so how Rulewatch reads never counts as a change."""
        old_content = load_content(session, previous)
        stored_old = old_content
        if previous.reader != READER:
            try:
                key = require_row(session, Document, previous.document_id).key
                old_content = self.kind.read(stored_snapshot(session, previous, self.source.name, key), self.source)
            except Exception:  # its bytes no longer read at all: compare with what was stored
                pass
            else:
                if content_hash(old_content) == content_hash(content):
                    return Assessment(
                        "cosmetic",
                        (f"read again by Rulewatch's updated reader: the document is as in version {previous.number}",),
                    )
        if _fetched_bytes(previous) == _fetched_bytes(version):
            headers = f" (Content-Type {previous.content_type!r} → {version.content_type!r})"
            return Assessment(
                "cosmetic",
                (
                    f"the same bytes as version {previous.number}, read differently"
                    + (headers if previous.content_type != version.content_type else ""),
                ),
            )
        redline = diff_contents(old_content, content)
        if old_content is stored_old:  # a view compares the stored contents: keep only that redline
            keep_comparison(session, previous.document_id, previous.number, version.number, redline)
        generic = assess(redline, old_content.links, content.links)
        return self.kind.assessed(old_content, content, generic)

    def _meet_expectations(
        self, session: Session, event: Event, version: Version, content: Content, signal: Signal
    ) -> None:
        """A promised document (or its earliest trace) appeared: one `expectation_met` event per
        expectation, once ever, its reason naming the signal; later signals only join the thread."""
        met = newly_met(session, self.expectations, self.source.name, content, signal)
        for expectation in met:
            # The row first, written only if absent: two crawls meeting it at once (a review and a
            # filing on PostgreSQL) both carry on, and only the first raises the alarm.
            first = insert_if_absent(
                session,
                ExpectationMet,
                ["name"],
                {
                    "name": expectation.name,
                    "met_at": event.detected_at,
                    "document_id": event.document_id,
                    "version": version.number,
                    "event_id": None,
                },
            )
            if not first:
                continue
            met_event = Event(
                kind="expectation_met",
                source_id=event.source_id,
                document_id=event.document_id,
                from_version=event.from_version,
                to_version=event.to_version,
                expectations=[expectation.name],
                reasons=[signal.reason],
                summary=f"{signal.lead}: {expectation.title or expectation.name}",
                detected_at=event.detected_at,
            )
            session.add(met_event)
            session.flush()
            met_row = session.get(ExpectationMet, expectation.name)
            assert met_row is not None, "written just above, in this transaction"
            met_row.event_id = met_event.id
            enqueue(session, met_event, self.source.name)
            self.progress(f"  {self.source.name}: expectation met: {expectation.name} ({signal.reason})")

    def record_failure(self, failure: FetchFailed) -> Event | None:
        limit = failure.fetched_at + timedelta(seconds=self.retry_after_max)
        if failure.retry_after and failure.retry_after > limit:
            # Held to [fetch] retry_after_max, and said first: the source's health (and its admins) must hear it.
            note = retry_after_held(failure.retry_after, self.retry_after_max)
            failure = replace(failure, error=f"{failure.error}; {note}", retry_after=limit)
            self.tally.failures.insert(0, failure.error)
            self.tally.failure_reason = FailureReason.RETRY_AFTER_HELD
        else:
            self.tally.failures.append(failure.error)
            if len(self.tally.failures) == 1:
                self.tally.failure_reason = failure.reason
        self.tally.last_status = failure.status
        self.progress(f"  {self.source.name}: FAILED {failure.error}")
        event = None
        with session_scope(self.engine) as session:
            source = require_row(session, Source, self.source_id)
            if failure.retry_after and (source.retry_after is None or failure.retry_after > source.retry_after):
                source.retry_after = failure.retry_after
            document = get_document(session, self.source_id, failure.key)
            if failure.gone and document is not None and document.removed_at is None:
                document.missing_checks += 1
                if document.missing_checks >= self.source.removed_after:
                    document.removed_at = failure.fetched_at
                    event = Event(
                        kind="removed",
                        source_id=self.source_id,
                        document_id=stored_id(document),
                        from_version=document.latest_version,
                        summary=f"gone ({failure.error}) on {document.missing_checks} consecutive checks",
                        detected_at=utcnow(),
                    )
                    session.add(event)
                    session.flush()
                    enqueue(session, event, self.source.name)
        return event

    def finish(self, session: Session | None = None) -> CheckTally:
        """Record the check's outcome on the source; the first success is the baseline.

        `session`: the caller's transaction (see finish_checks for many checks at once)."""
        if session is None:
            with session_scope(self.engine) as own:
                return self.finish(own)
        return finish_checks(session, [self])[0]

    def _finish_source(self, session: Session, source: Source | None) -> CheckTally:
        tally = self.tally
        source = source or require_row(session, Source, self.source_id)
        checked = utcnow()
        source.last_checked_at = checked
        if tally.succeeded:
            source.last_success_at = checked
            source.consecutive_failures = 0
            if source.baseline_at is None:
                source.baseline_at = checked
        else:
            source.last_failure_at = checked
            source.consecutive_failures += 1
        if tally.failures:
            source.last_failure_at = checked
            source.last_error = _failure_message(tally)
            source.last_failure_reason = tally.failure_reason
        else:
            source.last_error = source.last_failure_reason = None
        source.last_status = tally.last_status if tally.failures else 200
        return tally


class Lookups:
    """What storing a document first reads: its row and latest version, and whether its raw bytes
    are stored. Read for a whole batch in a few statements (Lookups.of), or, with none read
    before, one document at a time. A blob another process stores meanwhile is harmless: its
    INSERT does nothing on conflict.

    Each document's answer is used once: a second snapshot of the same document in a batch
    reads again, and finds what the first one stored."""

    def __init__(
        self,
        documents: dict[tuple[int, str], tuple[Document, Version | None] | None] | None = None,
        unstored_blobs: set[str] | None = None,
    ) -> None:
        self._documents = documents or {}
        self.unstored_blobs: set[str] = unstored_blobs or set()

    @classmethod
    def of(cls, session: Session, outcomes: list[ReadSnapshot]) -> Lookups:
        bodies = unstored_blobs(session, {sha256_hex(outcome.snapshot.body) for outcome in outcomes})
        if session.get_bind().dialect.name != "sqlite":
            # On PostgreSQL another process (a check run by hand, a Scrapyd job) may store a
            # version of these documents while the batch runs: each is read just before it is
            # stored. SQLite's batch holds the write lock from its BEGIN IMMEDIATE, so no one can.
            return cls(unstored_blobs=bodies)
        keys = {(outcome.ingestor.source_id, stored_key(outcome.snapshot.key)) for outcome in outcomes}
        found = documents_with_latest(session, keys)
        return cls({key: found.get(key) for key in keys}, bodies)

    def document(self, session: Session, source_id: int, key: str) -> tuple[Document | None, Version | None]:
        pair = (source_id, stored_key(key))
        if pair in self._documents:
            return self._documents.pop(pair) or (None, None)
        document = get_document(session, source_id, key)
        return document, get_version(session, stored_id(document), document.latest_version) if document else None


@dataclass
class ReadSnapshot:
    """A snapshot read in a crawl process, to be stored by its source's Ingestor."""

    ingestor: Ingestor
    snapshot: Snapshot
    read: Content | Refused
    budget: ReadingBudget  # what is left of the document's seconds, for the comparison


def ingest_reads(engine: Engine, outcomes: list[ReadSnapshot]) -> None:
    """Store many snapshots already read, of any sources, as Ingestor.ingest_read stores each:
    in one transaction, each document in a savepoint of its own, so that one that cannot be
    stored is rolled back alone and becomes its source's recorded failure. Should the
    transaction itself fail, or a document run past its budget, each is stored again on its own."""
    readable = [outcome for outcome in outcomes if not isinstance(outcome.read, Refused)]
    stored: list[tuple[ReadSnapshot, Event | None]] = []
    not_stored: list[tuple[ReadSnapshot, BaseException]] = []
    try:
        with session_scope(engine) as session:
            searchable: list[tuple[int, dict]] = []
            lookups = Lookups.of(session, readable)
            for outcome in readable:
                assert not isinstance(outcome.read, Refused)
                versions: list[tuple[int, dict]] = []
                try:
                    with session.begin_nested():
                        event = outcome.ingestor._store(
                            session, outcome.snapshot, outcome.read, outcome.budget, versions, lookups
                        )
                except DocumentTooSlow:
                    raise  # it may have struck inside the database's driver: the whole batch goes
                except Exception as error:
                    not_stored.append((outcome, error))
                else:
                    stored.append((outcome, event))
                    searchable += versions
            index_versions(session, searchable)  # outside the savepoints: see index_versions
    except (DocumentTooSlow, Exception):
        stored, not_stored = [], []
        for outcome in readable:
            outcome.ingestor.ingest_read(outcome.snapshot, outcome.read, outcome.budget)
    # Failures are recorded in transactions of their own, once the batch's has ended.
    for outcome, event in stored:
        outcome.ingestor._tally_stored(outcome.snapshot, event)
    for outcome, problem in not_stored:
        outcome.ingestor._not_stored(outcome.snapshot, outcome.budget, problem)
    for outcome in outcomes:
        if isinstance(outcome.read, Refused):
            outcome.ingestor.ingest_read(outcome.snapshot, outcome.read, outcome.budget)


def finish_checks(session: Session, ingestors: list[Ingestor]) -> list[CheckTally]:
    """Record the outcome of many checks in `session`, each as Ingestor.finish would: the
    documents answered 304 are marked seen a few hundred per statement, and each source's row
    is read once for all, so a pass over hundreds of sources costs a handful of statements.

    The documents are updated in the database, not in `session`: a caller must not hold
    them loaded there (a check's session never does)."""
    source_ids = sorted({ingestor.source_id for ingestor in ingestors})
    rows = {
        stored_id(row): row
        for part in in_chunks(source_ids)
        for row in session.exec(select(Source).where(col(Source.id).in_(part)))
    }
    seen = sorted({(ingestor.source_id, stored_key(key)) for ingestor in ingestors for key in ingestor.not_modified})
    now = utcnow()
    for pairs in in_chunks(seen):
        session.execute(
            update(Document)
            .where(tuple_(col(Document.source_id), col(Document.key)).in_(pairs))
            .values(last_seen_at=now, missing_checks=0, removed_at=None),
            execution_options={"synchronize_session": False},
        )
    return [ingestor._finish_source(session, rows.get(ingestor.source_id)) for ingestor in ingestors]


def mark_seen(document: Document) -> None:
    document.last_seen_at = utcnow()
    document.missing_checks = 0
    document.removed_at = None


def _evidence(session: Session, snapshot: Snapshot) -> dict:
    """Source-specific facts of a fetch; attached bodies (a document's full text) kept as blobs."""
    evidence = {key: value for key, value in snapshot.extra.items() if key != "attachments"}
    attachments = []
    for attachment in snapshot.extra.get("attachments", []):
        kept = {key: value for key, value in attachment.items() if key != "body"}
        kept["sha256"] = put_blob(session, attachment["body"])
        attachments.append(kept)
    if attachments:
        evidence["attachments"] = attachments
    if snapshot.exchanges:  # what was sent and received, for the version's WARC evidence
        evidence["http"] = {
            "exchanges": [exchange.to_json() for exchange in snapshot.exchanges],
            "composed": snapshot.composed,
        }
    return evidence


def _failure_message(tally: CheckTally) -> str:
    first = tally.failures[0]
    if len(tally.failures) == 1:
        return first
    return f"{len(tally.failures)} fetches failed; first: {first}"


def _fetched_bytes(version: Version) -> list[str]:
    """The SHA-256 of everything a version was read from: its body and attached bodies."""
    attachments = version.evidence.get("attachments", [])
    return [version.sha256] + [attachment.get("sha256", "") for attachment in attachments]
