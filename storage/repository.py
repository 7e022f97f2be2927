"""Queries and writes the rest of Rulewatch uses; nothing here parses content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, Text, case, func, tuple_, type_coerce
from sqlmodel import Session, SQLModel, col, delete, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from storage.db import in_chunks
from storage.limits import MAX_ROW_ID
from storage.models import (
    AdminAuthFailure,
    AdminSession,
    AuditEntry,
    Channel,
    ChannelDelivery,
    Delivery,
    Document,
    Event,
    ExpectationMet,
    NodeJob,
    Review,
    ReviewNote,
    SignInFailure,
    Source,
    Subscriber,
    UserAccount,
    UserSession,
    Version,
    storable_text,
)
from storage.reviewable import REVIEWED_SEVERITIES

KEY_BYTES = 2000  # a document key (often its URL) longer than this is kept as its start and its SHA-256

T = TypeVar("T", bound=SQLModel)


def require_row(session: Session, model: type[T], row_id: int | None) -> T:
    """The row of `model` with this id, for callers that hold the id of a row that must exist."""
    row = None if row_id is None else session.get(model, row_id)
    if row is None:
        raise LookupError(f"no {model.__name__} row with id {row_id}")
    return row


class _Identified(Protocol):
    id: int | None


def stored_id(row: _Identified) -> int:
    """The id of a row read from the database or flushed to it; one not yet written has none to give."""
    if row.id is None:
        raise LookupError(f"{type(row).__name__} has no id: it is not written to the database yet")
    return row.id


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


def documents_with_latest(
    session: Session, keys: Collection[tuple[int, str]]
) -> dict[tuple[int, str], tuple[Document, Version | None]]:
    """The documents of these (source id, stored key) pairs, each with its latest version, as
    get_document and get_version give them, in a statement for a few hundred."""
    found: dict[tuple[int, str], tuple[Document, Version | None]] = {}
    latest = (col(Version.document_id) == Document.id) & (col(Version.number) == Document.latest_version)
    for part in in_chunks(sorted(set(keys))):
        query = (
            select(Document, Version)
            .outerjoin(Version, latest)
            .where(tuple_(col(Document.source_id), col(Document.key)).in_(part))
        )
        for document, version in session.exec(query):
            found[(document.source_id, document.key)] = (document, version)
    return found


def find_document(session: Session, ref: str) -> Document | None:
    """A document by id, key or URL (what the CLI calls DOC)."""
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_ROW_ID:
        document = session.get(Document, int(ref))
        if document is not None:
            return document
    for column in (Document.key, Document.url):
        document = session.exec(select(Document).where(column == ref).order_by(col(Document.id))).first()
        if document is not None:
            return document
    return None


def list_documents(session: Session, source_id: int | None = None) -> list[Document]:
    query = select(Document).order_by(col(Document.id))
    if source_id is not None:
        query = query.where(Document.source_id == source_id)
    return list(session.exec(query))


def change_event(session: Session, document_id: int, from_version: int, to_version: int) -> Event | None:
    """The `changed` event ingest recorded between these two versions, if they are consecutive."""
    return session.exec(
        select(Event).where(
            Event.document_id == document_id,
            Event.kind == "changed",
            Event.from_version == from_version,
            Event.to_version == to_version,
        )
    ).first()


def get_version(session: Session, document_id: int, number: int) -> Version | None:
    return session.exec(select(Version).where(Version.document_id == document_id, Version.number == number)).first()


def list_versions(session: Session, document_id: int) -> list[Version]:
    return list(session.exec(select(Version).where(Version.document_id == document_id).order_by(col(Version.number))))


def latest_validators(session: Session, source_id: int) -> dict[str, dict[str, str]]:
    """{url: {"etag": …, "last_modified": …}} from each live document's latest version."""
    rows = session.exec(
        select(Document.url, Version.headers)
        .join(Version, (col(Version.document_id) == Document.id) & (col(Version.number) == Document.latest_version))
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
    kinds: Sequence[str] | None = None,
    source_id: int | None = None,
    document_id: int | None = None,
    severities: Sequence[str] | None = None,
    baseline: bool | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events newest first, detected between `since` and `until` (both included).
    `severities` filters only `changed` events; `baseline` False leaves out a source's first check."""
    query = _events_query(since, until, kinds, source_id, document_id, severities, baseline)
    if limit:
        query = query.limit(limit)
    return list(session.exec(query))


def iter_events(
    session: Session,
    kinds: Sequence[str] | None = None,
    severities: Sequence[str] | None = None,
    baseline: bool | None = None,
) -> Iterator[Event]:
    """Events newest first, as list_events, read as the caller goes: for filters decided in Python."""
    yield from session.exec(_events_query(None, None, kinds, None, None, severities, baseline))


def _events_query(
    since: datetime | None,
    until: datetime | None,
    kinds: Sequence[str] | None,
    source_id: int | None,
    document_id: int | None,
    severities: Sequence[str] | None,
    baseline: bool | None,
) -> SelectOfScalar[Event]:
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
        query = query.where((col(Event.kind) != "changed") | col(Event.severity).in_(severities))
    if baseline is not None:
        query = query.where(col(Event.baseline) == baseline)
    return query


def count_events(session: Session, source_id: int, after_id: int) -> dict[str, int]:
    """Events of a source with id > after_id, counted by kind (and severity for changes)."""
    rows = session.exec(
        select(Event.kind, Event.severity, func.count())
        .where(Event.source_id == source_id, col(Event.id) > after_id)
        .group_by(col(Event.kind), col(Event.severity))
    )
    counts: dict[str, int] = {}
    for kind, severity, n in rows:
        label = f"{kind}:{severity}" if severity else kind
        counts[label] = counts.get(label, 0) + n
    return counts


def max_event_id(session: Session) -> int:
    return session.exec(select(func.max(Event.id))).one() or 0


def list_subscribers(session: Session) -> list[Subscriber]:
    return list(session.exec(select(Subscriber).order_by(col(Subscriber.email))))


def get_subscriber(session: Session, email: str) -> Subscriber | None:
    """The subscriber with this address, as normalized (tracker.config.normalize_email)."""
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def active_subscribers(session: Session) -> list[Subscriber]:
    return list(session.exec(select(Subscriber).where(col(Subscriber.active).is_(True)).order_by(col(Subscriber.id))))


def active_channels(session: Session) -> list[Channel]:
    return list(session.exec(select(Channel).where(col(Channel.active).is_(True)).order_by(col(Channel.id))))


def list_channels(session: Session) -> list[Channel]:
    return list(session.exec(select(Channel).order_by(col(Channel.name))))


def met_expectation_names(session: Session) -> set[str]:
    return set(session.exec(select(ExpectationMet.name)))


def list_expectations_met(session: Session) -> list[ExpectationMet]:
    return list(session.exec(select(ExpectationMet).order_by(col(ExpectationMet.name))))


def documents_naming(session: Session, expectation: str) -> list[int]:
    """The documents with an event that names `expectation` (ingest names the expectations
    whose criteria a version meets): the documents of its thread."""
    encoded = json.dumps(expectation)  # as StoredJSON writes it inside the list, quotes included
    pattern = "%" + encoded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    text = type_coerce(col(Event.expectations), Text)
    rows = session.exec(select(Event.document_id, Event.expectations).where(text.like(pattern, escape="\\")))
    # LIKE is only a first cut (SQLite's ignores case): the list itself decides.
    return sorted({document_id for document_id, names in rows if expectation in names})


def events_of_documents(session: Session, document_ids: Sequence[int]) -> list[Event]:
    """Every event of these documents, oldest first."""
    if not document_ids:
        return []
    query = (
        select(Event)
        .where(col(Event.document_id).in_(list(document_ids)))
        .order_by(col(Event.detected_at), col(Event.id))
    )
    return list(session.exec(query))


def forget_admin_sessions(session: Session, expired_by: datetime) -> None:
    """Delete the admin sessions that expired by then."""
    session.exec(delete(AdminSession).where(col(AdminSession.expires_at) <= expired_by))


def recent_auth_failures(session: Session, client: str, since: datetime, limit: int) -> list[datetime]:
    """When `client` last gave a wrong admin token after `since`, newest first, at most `limit` times."""
    query = (
        select(AdminAuthFailure.at)
        .where(AdminAuthFailure.client == client, col(AdminAuthFailure.at) > since)
        .order_by(col(AdminAuthFailure.at).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def forget_auth_failures(session: Session, until: datetime) -> None:
    """Delete the wrong admin tokens recorded at or before `until`, from every client."""
    session.exec(delete(AdminAuthFailure).where(col(AdminAuthFailure.at) <= until))


def failing_deliveries(session: Session, limit: int = 200) -> list[Delivery]:
    """Deliveries that gave up, or failed at least once and wait for a retry; newest first."""
    failing = (Delivery.status == "failed") | ((Delivery.status == "pending") & (Delivery.attempts > 0))
    query = select(Delivery).where(failing).order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc())
    return list(session.exec(query.limit(limit)))


def failing_channel_deliveries(session: Session, limit: int = 200) -> list[ChannelDelivery]:
    """Channel deliveries that gave up, or failed at least once and wait for a retry; newest first."""
    failing = (ChannelDelivery.status == "failed") | (
        (ChannelDelivery.status == "pending") & (ChannelDelivery.attempts > 0)
    )
    query = (
        select(ChannelDelivery)
        .where(failing)
        .order_by(col(ChannelDelivery.created_at).desc(), col(ChannelDelivery.id).desc())
    )
    return list(session.exec(query.limit(limit)))


def channel_delivery_problems(session: Session) -> dict[str, int]:
    """For /healthz and `check`: channel deliveries failed for good, and those waiting for a retry."""
    failed = session.exec(
        select(func.count()).select_from(ChannelDelivery).where(ChannelDelivery.status == "failed")
    ).one()
    retrying = session.exec(
        select(func.count())
        .select_from(ChannelDelivery)
        .where(ChannelDelivery.status == "pending", col(ChannelDelivery.attempts) > 0)
    ).one()
    return {"failed": failed, "retrying": retrying}


def node_jobs_state(session: Session, now: datetime) -> dict:
    """For /healthz: the runs in flight, how long the oldest has been, and those lost in the last hour."""
    started = list(session.exec(select(NodeJob.dispatched_at).where(NodeJob.status == "running")))
    lost = session.exec(
        select(func.count())
        .select_from(NodeJob)
        .where(NodeJob.status == "lost", NodeJob.dispatched_at >= now - timedelta(hours=1))
    ).one()
    oldest = int((now - min(started)).total_seconds()) if started else 0
    return {"runs_in_flight": len(started), "oldest_run_seconds": oldest, "runs_lost_last_hour": lost}


# -- the review desk ------------------------------------------------------------------------


def _reviewable() -> ColumnElement[bool]:
    """is_reviewable, as SQL."""
    changed = (
        (col(Event.kind) == "changed") & col(Event.severity).in_(REVIEWED_SEVERITIES) & (col(Event.baseline).is_(False))
    )
    return changed | (col(Event.kind) == "expectation_met")


def review_rows(session: Session, event_ids: Sequence[int]) -> tuple[dict[int, Review], dict[int, list[ReviewNote]]]:
    """The reviews of these events, and their notes oldest first, by event id."""
    reviews: dict[int, Review] = {}
    notes: dict[int, list[ReviewNote]] = {}
    ids = sorted(set(event_ids))
    for chunk in in_chunks(ids):
        for review in session.exec(select(Review).where(col(Review.event_id).in_(chunk))):
            reviews[review.event_id] = review
        query = (
            select(ReviewNote)
            .where(col(ReviewNote.event_id).in_(chunk))
            .order_by(col(ReviewNote.written_at), col(ReviewNote.id))
        )
        for note in session.exec(query):
            notes.setdefault(note.event_id, []).append(note)
    return reviews, notes


def review_queue(
    session: Session, statuses: Sequence[str] | None, source_id: int | None, limit: int
) -> list[tuple[Event, Review | None]]:
    """Reviewable events with their reviews: substantive changes and expectations met first, then
    minor changes, each newest first. An event without a review row has status `new`."""
    status = func.coalesce(col(Review.status), "new")
    minor_last = case(((col(Event.kind) == "changed") & (col(Event.severity) == "minor"), 1), else_=0)
    query: Select[Event, Review] = (
        select(Event, Review)
        .join(Review, col(Review.event_id) == col(Event.id), isouter=True)
        .where(_reviewable())
        .order_by(minor_last, col(Event.detected_at).desc(), col(Event.id).desc())
    )
    if statuses is not None:
        query = query.where(status.in_(statuses))
    if source_id is not None:
        query = query.where(Event.source_id == source_id)
    return [(row[0], row[1]) for row in session.exec(query.limit(limit))]


def lock_review(session: Session, event_id: int) -> Review | None:
    """An event's review row, locked until the transaction ends (PostgreSQL; SQLite's writer lock is
    taken when the transaction begins), so two reviewers' actions are told apart in the audit log."""
    return session.exec(select(Review).where(Review.event_id == event_id).with_for_update()).first()


def get_user(session: Session, email: str) -> UserAccount | None:
    """The account with this address, as normalized (tracker.config.normalize_email)."""
    return session.exec(select(UserAccount).where(UserAccount.email == email)).first()


def list_users(session: Session) -> list[UserAccount]:
    return list(session.exec(select(UserAccount).order_by(col(UserAccount.email))))


def accounts_exist(session: Session) -> bool:
    return session.exec(select(UserAccount.id).limit(1)).first() is not None


def forget_user_sessions(session: Session, expired_by: datetime) -> None:
    """Delete the sessions that expired by then, of every account."""
    session.exec(delete(UserSession).where(col(UserSession.expires_at) <= expired_by))


def recent_sign_in_failures(
    session: Session,
    since: datetime,
    limit: int,
    client: str | None = None,
    email: str | None = None,
    other_than: int | None = None,
) -> list[datetime]:
    """When sign-in failed after `since`, from this client and/or for this account (leaving out the
    row `other_than`), newest first, at most `limit`."""
    query = select(SignInFailure.at).where(col(SignInFailure.at) > since)
    if client is not None:
        query = query.where(SignInFailure.client == client)
    if email is not None:
        query = query.where(SignInFailure.email == email)
    if other_than is not None:
        query = query.where(col(SignInFailure.id) != other_than)
    return list(session.exec(query.order_by(col(SignInFailure.at).desc()).limit(limit)))


def forget_sign_in_failures(
    session: Session, until: datetime, email: str | None = None, client: str | None = None
) -> None:
    """Delete the failed sign-ins recorded at or before `until` (of one account and/or client, or of all)."""
    query = delete(SignInFailure).where(col(SignInFailure.at) <= until)
    if email is not None:
        query = query.where(col(SignInFailure.email) == email)
    if client is not None:
        query = query.where(col(SignInFailure.client) == client)
    session.exec(query)


def list_audit(session: Session, limit: int) -> list[AuditEntry]:
    """The audit log, newest first."""
    query = select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list(session.exec(query.limit(limit)))


def reviewable_events_between(
    session: Session, document_id: int, from_version: int | None, to_version: int
) -> list[Event]:
    """The reviewable events a redline of these two versions shows: the change between them
    (when they are consecutive) and an expectation met by the newer one."""
    changed = (col(Event.kind) == "changed") & (col(Event.from_version) == from_version)
    query = (
        select(Event)
        .where(Event.document_id == document_id, Event.to_version == to_version, _reviewable())
        .where(changed | (col(Event.kind) == "expectation_met"))
        .order_by(col(Event.id))
    )
    return list(session.exec(query))
