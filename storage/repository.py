"""Queries and writes the rest of Rulewatch uses; nothing here parses content."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import (
    CheckRun,
    Delivery,
    Document,
    Event,
    Source,
    Subscriber,
    Version,
    storable_text,
)

KEY_BYTES = 2000  # a document key (often its URL) longer than this is kept as its start and its SHA-256
MAX_ROW_ID = 2**31 - 1  # ids and version numbers are INTEGER columns: PostgreSQL holds no more


def ensure_source(session: Session, name: str, kind: str) -> Source:
    source = session.exec(select(Source).where(Source.name == name)).first()
    if source is None:
        source = Source(name=name, kind=kind)
        session.add(source)
        session.flush()
    elif source.kind != kind:
        source.kind = kind
    return source


def get_source(session: Session, name: str) -> Source | None:
    return session.exec(select(Source).where(Source.name == name)).first()


def list_sources(session: Session) -> list[Source]:
    return list(session.exec(select(Source).order_by(Source.name)))


def stored_key(key: str) -> str:
    """A document's key as stored: unique and indexed on both databases, whatever its length.

    PostgreSQL cannot index a value much over 2,700 bytes, and a URL has no limit."""
    key = storable_text(key)
    encoded = key.encode("utf-8")
    if len(encoded) <= KEY_BYTES:
        return key
    start = encoded[: KEY_BYTES - 80].decode("utf-8", "ignore")
    return f"{start}… sha256:{hashlib.sha256(encoded).hexdigest()}"


def get_document(session: Session, source_id: int, key: str) -> Document | None:
    return session.exec(
        select(Document).where(Document.source_id == source_id, Document.key == stored_key(key))
    ).first()


def find_document(session: Session, ref: str) -> Document | None:
    """A document by id, key or URL (what the CLI calls DOC)."""
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_ROW_ID:
        document = session.get(Document, int(ref))
        if document is not None:
            return document
    for column in (Document.key, Document.url):
        document = session.exec(select(Document).where(column == ref).order_by(Document.id)).first()
        if document is not None:
            return document
    return None


def list_documents(session: Session, source_id: int | None = None) -> list[Document]:
    query = select(Document).order_by(Document.id)
    if source_id is not None:
        query = query.where(Document.source_id == source_id)
    return list(session.exec(query))


def get_version(session: Session, document_id: int, number: int) -> Version | None:
    return session.exec(select(Version).where(Version.document_id == document_id, Version.number == number)).first()


def list_versions(session: Session, document_id: int) -> list[Version]:
    return list(session.exec(select(Version).where(Version.document_id == document_id).order_by(Version.number)))


def latest_validators(session: Session, source_id: int) -> dict[str, dict[str, str]]:
    """{url: {"etag": …, "last_modified": …}} from each live document's latest version."""
    rows = session.exec(
        select(Document.url, Version.headers)
        .join(Version, (Version.document_id == Document.id) & (Version.number == Document.latest_version))
        .where(Document.source_id == source_id, col(Document.removed_at).is_(None))
    )
    validators: dict[str, dict[str, str]] = {}
    for url, stored_headers in rows:
        headers = {k.lower(): v for k, v in stored_headers.items()}
        found = {
            name: headers[header]
            for name, header in (("etag", "etag"), ("last_modified", "last-modified"))
            if headers.get(header)
        }
        if found:
            validators[url] = found
    return validators


def list_events(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: list[str] | None = None,
    source_id: int | None = None,
    document_id: int | None = None,
    severities: list[str] | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events newest first, detected between `since` and `until` (both included).
    `severities` filters only `changed` events."""
    query = select(Event).order_by(col(Event.detected_at).desc(), col(Event.id).desc())
    if since is not None:
        query = query.where(Event.detected_at >= since)
    if until is not None:
        query = query.where(Event.detected_at <= until)
    if kinds:
        query = query.where(col(Event.kind).in_(kinds))
    if source_id is not None:
        query = query.where(Event.source_id == source_id)
    if document_id is not None:
        query = query.where(Event.document_id == document_id)
    if severities is not None:
        query = query.where((Event.kind != "changed") | col(Event.severity).in_(severities))
    if limit:
        query = query.limit(limit)
    return list(session.exec(query))


def count_events(session: Session, source_id: int, after_id: int) -> dict[str, int]:
    """Events of a source with id > after_id, counted by kind (and severity for changes)."""
    rows = session.exec(
        select(Event.kind, Event.severity, func.count())
        .where(Event.source_id == source_id, Event.id > after_id)
        .group_by(Event.kind, Event.severity)
    )
    counts: dict[str, int] = {}
    for kind, severity, n in rows:
        label = f"{kind}:{severity}" if severity else kind
        counts[label] = counts.get(label, 0) + n
    return counts


def max_event_id(session: Session) -> int:
    return session.exec(select(func.max(Event.id))).one() or 0


def list_subscribers(session: Session) -> list[Subscriber]:
    return list(session.exec(select(Subscriber).order_by(Subscriber.email)))


def failing_deliveries(session: Session, limit: int = 200) -> list[Delivery]:
    """Deliveries that gave up, or failed at least once and wait for a retry; newest first."""
    failing = (Delivery.status == "failed") | ((Delivery.status == "pending") & (Delivery.attempts > 0))
    query = select(Delivery).where(failing).order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc())
    return list(session.exec(query.limit(limit)))


def check_runs_state(session: Session, now: datetime) -> dict:
    """For /healthz: the runs in flight, how long the oldest has been, and those lost in the last hour."""
    started = list(session.exec(select(CheckRun.dispatched_at).where(CheckRun.status == "running")))
    lost = session.exec(
        select(func.count())
        .select_from(CheckRun)
        .where(CheckRun.status == "lost", CheckRun.dispatched_at >= now - timedelta(hours=1))
    ).one()
    oldest = int((now - min(started)).total_seconds()) if started else 0
    return {"runs_in_flight": len(started), "oldest_run_seconds": oldest, "runs_lost_last_hour": lost}
