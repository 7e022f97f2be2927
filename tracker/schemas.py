"""The JSON shapes of the contract, shared by the CLI, the web API and feeds.

The functions build the shapes; the pydantic models below describe them for the
API's `response_model`s, so /openapi.json documents the contract. The models
allow keys they do not name (the contract says "at least"), and times are the
strings `iso` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import object_session
from sqlmodel import Session

from storage.models import Document, Event, Review, ReviewNote, Source, Version
from storage.repository import is_reviewable, list_sources, require_row, review_rows
from tracker.items import FailureReason

IsoTime = str  # "2026-11-25T10:00:00Z", always UTC


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document_json(document: Document) -> dict:
    return {"id": document.id, "key": document.key, "url": document.url, "title": document.title}


# event_json's `review` when the caller read none: the event's own session is asked.
_READ_IT = object()


def review_json(event: Event, review: Review | None, notes: Sequence[ReviewNote]) -> dict | None:
    """An event's review as `changes --json` shows it; None for events that are not reviewed
    (new, removed, cosmetic changes). Without a row, a reviewable event is `new`."""
    if not is_reviewable(event):
        return None
    return {
        "status": review.status if review else "new",
        "by": review.reviewed_by if review else None,
        "at": iso(review.reviewed_at) if review else None,
        "notes": [{"by": note.author, "at": iso(note.written_at), "text": note.text} for note in notes],
    }


def event_json(event: Event, source: Source, document: Document, review: dict | object | None = _READ_IT) -> dict:
    """One element of `changes --json`. Pass `review` (review_json) when it was read with others, as
    events_json does; otherwise it is read here, through the session the event came from."""
    if review is _READ_IT:
        review = None
        if is_reviewable(event) and event.id is not None:
            session = object_session(event)
            if not isinstance(session, Session):
                raise LookupError(f"event {event.id} is not in a session: pass its review to event_json")
            reviews, notes = review_rows(session, [event.id])
            review = review_json(event, reviews.get(event.id), notes.get(event.id, []))
    return {
        "id": event.id,
        "event": event.kind,
        "severity": event.severity if event.kind == "changed" else None,
        "reasons": list(event.reasons),
        "source": source.name,
        "document": document_json(document),
        "from_version": event.from_version,
        "to_version": event.to_version,
        "detected_at": iso(event.detected_at),
        "expectations": list(event.expectations),
        "baseline": event.baseline,
        "summary": event.summary,
        "review": review,
    }


def events_json(session: Session, events: Sequence[Event]) -> list[dict]:
    """Events as `changes --json` elements, their reviews read together."""
    sources = {source.id: source for source in list_sources(session)}
    reviews, notes = review_rows(session, [event.id for event in events if event.id is not None])
    documents: dict[int, Document] = {}
    rows = []
    for event in events:
        if event.document_id not in documents:
            documents[event.document_id] = require_row(session, Document, event.document_id)
        event_id = event.id or 0
        review = review_json(event, reviews.get(event_id), notes.get(event_id, []))
        rows.append(event_json(event, sources[event.source_id], documents[event.document_id], review))
    return rows


def version_json(version: Version) -> dict:
    return {
        "version": version.number,
        "fetched_at": iso(version.fetched_at),
        "url": version.url,
        "final_url": version.final_url,
        "status": version.status,
        "sha256": version.sha256,
        "content_type": version.content_type,
        "title": version.title,
        "headers": dict(version.headers),
    }


def document_summary_json(document: Document, source: Source) -> dict:
    return {
        **document_json(document),
        "source": source.name,
        "versions": document.latest_version,
        "first_seen_at": iso(document.first_seen_at),
        "last_seen_at": iso(document.last_seen_at),
        "removed_at": iso(document.removed_at),
    }


# -- the shapes as models, for the API's OpenAPI document ----------------------------------


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class DocumentRef(Shape):
    """A document as events, diffs and expectations name it."""

    id: int
    key: str
    url: str
    title: str | None


class ReviewNoteRecord(Shape):
    by: str
    at: IsoTime | None
    text: str


class ReviewState(Shape):
    """Where an event's review stands; who and when of the latest review action."""

    status: str = Field(description="new, in_review, reviewed or not_relevant.")
    by: str | None = Field(description="An account's e-mail, or `admin token`; null while new and untouched.")
    at: IsoTime | None
    notes: list[ReviewNoteRecord] = Field(description="Oldest first.")


class ChangeEvent(Shape):
    """One element of `rulewatch changes --json`."""

    id: int
    event: str = Field(description="new, changed, removed or expectation_met.")
    severity: str | None = Field(description="Set for `changed` (cosmetic, minor, substantive), null otherwise.")
    reasons: list[str]
    source: str
    document: DocumentRef
    from_version: int | None = Field(description="Null for `new`.")
    to_version: int | None
    detected_at: IsoTime | None
    expectations: list[str]
    baseline: bool = Field(description="True for what a source's first check found.")
    summary: str | None
    review: ReviewState | None = Field(
        description="Set for minor and substantive changes and expectations met; null for other events."
    )


class DocumentSummary(DocumentRef):
    """One element of `rulewatch documents --json`."""

    source: str
    versions: int = Field(description="The number of the latest version.")
    first_seen_at: IsoTime | None
    last_seen_at: IsoTime | None
    removed_at: IsoTime | None


class VersionRecord(Shape):
    """One element of `rulewatch history DOC --json`, with the fetch's evidence on the API."""

    version: int
    fetched_at: IsoTime | None
    url: str
    final_url: str | None
    status: int | None
    sha256: str
    content_type: str | None
    title: str | None
    headers: dict[str, Any]
    evidence: dict[str, Any] = Field(default_factory=dict, description="Only on /api/documents/{id}/versions.")


class RedlineOp(Shape):
    op: str = Field(description="equal, insert or delete.")
    text: str
    section: str | None
    move: str | None = Field(None, description="Only on the two halves of a moved paragraph.")
    move_id: int | None = Field(None, description="Shared by the two halves of a moved paragraph.")


class Redline(Shape):
    """`rulewatch diff DOC --format json`."""

    document: DocumentRef
    from_: int | None = Field(alias="from", description="Null when the version is compared with nothing.")
    to: int
    severity: str | None
    reasons: list[str]
    ops: list[RedlineOp]


class SourceHealth(Shape):
    name: str
    kind: str
    interval: int | None
    status: str = Field(
        description="ok, retrying (failed lately, not yet failing), failing, stale, not checked yet or not configured."
    )
    stale: bool
    last_checked_at: IsoTime | None
    last_success_at: IsoTime | None
    last_failure_at: IsoTime | None
    last_status: int | None
    last_error: str | None
    last_failure_reason: str | None = Field(
        description=f"Why the last check failed, as a word: {', '.join(FailureReason)}."
    )
    consecutive_failures: int
    next_check_at: IsoTime | None = Field(description="When `rulewatch run` polls it next (backoff included).")


class ExpectationStatus(Shape):
    """One element of `rulewatch expectations --json`."""

    name: str
    title: str | None
    status: str = Field(description="waiting or met.")
    met_at: IsoTime | None
    document: DocumentRef | None
    version: int | None
    event_id: int | None


class SubscriberRecord(Shape):
    id: int
    email: str
    active: bool
    sources: list[str]
    expectations: list[str]
    min_severity: str
    digest: str
    created_at: IsoTime | None
    last_digest_at: IsoTime | None
    token_version: int


class DeliveryRecord(Shape):
    id: int
    event_id: int
    subscriber: str = Field(description="The subscriber's e-mail address.")
    cadence: str
    status: str
    attempts: int
    next_attempt_at: IsoTime | None
    last_error: str | None
    created_at: IsoTime | None
