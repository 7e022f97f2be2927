"""The JSON shapes of the contract as pydantic models, for the API's `response_model`s,
so /openapi.json documents the contract (tracker.shapes builds them; `events_json` here
builds `changes --json` elements from stored events, their reviews read together). The models
allow keys they do not name (the contract says "at least"), and times are the
strings `iso` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from storage.models import Document, Event
from storage.repository import list_sources, require_row, review_rows
from tracker.items import FailureReason
from tracker.shapes import event_json, review_json

IsoTime = str  # "2026-11-25T10:00:00Z", always UTC


def events_json(session: Session, events: Sequence[Event]) -> list[dict]:
    """Events as `changes --json` elements, their sources, documents and reviews read together."""
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
    reason: str | None = Field(description="What met it: the reason of its expectation_met event.")
    thread: list[ChangeEvent] = Field(
        description="Every event of every document that met its criteria (from any source), oldest first."
    )


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


class ChannelRecord(Shape):
    """A configured channel, named by its name and its URL's scheme only: the URL carries its tokens."""

    name: str
    scheme: str = Field(description="Its URL's scheme: http or https for a signed webhook, else Apprise's.")
    active: bool = Field(description="False once it is no longer in the configuration.")
    sources: list[str]
    expectations: list[str]
    min_severity: str
    created_at: IsoTime | None


class ChannelDeliveryRecord(Shape):
    id: int
    event_id: int
    channel: str = Field(description="The channel's name.")
    scheme: str
    status: str
    attempts: int
    next_attempt_at: IsoTime | None
    last_error: str | None
    created_at: IsoTime | None


class SearchHit(Shape):
    """One element of `rulewatch search QUERY --json`: a stretch of consecutive versions of a document that have the query."""

    source: str
    document: DocumentRef
    first_version: int = Field(description="The first version of the stretch: where the query appeared.")
    first_seen: IsoTime = Field(description="When first_version was fetched.")
    last_version: int = Field(description="The last version of the stretch that has the query.")
    gone_in: int | None = Field(
        description="The version right after last_version, which no longer has it; null while the latest version has it."
    )
    snippet: str = Field(description="The text around the query's first match in first_version, from one paragraph.")
