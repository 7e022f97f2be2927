"""The JSON shapes of the contract, shared by the CLI, the web API and feeds.

The functions build the shapes; the pydantic models below describe them for the
API's `response_model`s, so /openapi.json documents the contract. The models
allow keys they do not name (the contract says "at least"), and times are the
strings `iso` writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storage.models import Document, Event, Source, Version
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


def event_json(event: Event, source: Source, document: Document) -> dict:
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
    }


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
