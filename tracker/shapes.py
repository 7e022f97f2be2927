"""The JSON shapes of the contract, built for the CLI, the web API and feeds.

Light on purpose (the standard library alone): `rulewatch changes` builds them from
rows read without SQLAlchemy (storage.plain) as well as from the ORM's rows, so the
functions take anything with the rows' attributes. tracker.schemas describes the
same shapes as pydantic models for /openapi.json.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any, Protocol

from storage.reviewable import is_reviewable


class DocumentRow(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def key(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str: ...


class SourceRow(Protocol):
    @property
    def name(self) -> str: ...


class EventRow(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def reasons(self) -> Sequence[str]: ...
    @property
    def from_version(self) -> int | None: ...
    @property
    def to_version(self) -> int | None: ...
    @property
    def detected_at(self) -> datetime: ...
    @property
    def expectations(self) -> Sequence[str]: ...
    @property
    def baseline(self) -> bool: ...
    @property
    def summary(self) -> str: ...


class ReviewRow(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def reviewed_by(self) -> str | None: ...
    @property
    def reviewed_at(self) -> datetime | None: ...


class NoteRow(Protocol):
    @property
    def author(self) -> str: ...
    @property
    def written_at(self) -> datetime: ...
    @property
    def text(self) -> str: ...


class VersionRow(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def fetched_at(self) -> datetime: ...
    @property
    def url(self) -> str: ...
    @property
    def final_url(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def headers(self) -> dict[str, Any]: ...


class DocumentSummaryRow(DocumentRow, Protocol):
    @property
    def latest_version(self) -> int: ...
    @property
    def first_seen_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...
    @property
    def removed_at(self) -> datetime | None: ...


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document_json(document: DocumentRow) -> dict:
    return {"id": document.id, "key": document.key, "url": document.url, "title": document.title}


def review_json(event: EventRow, review: ReviewRow | None, notes: Sequence[NoteRow]) -> dict | None:
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


def event_json(event: EventRow, source: SourceRow, document: DocumentRow, review: dict | None) -> dict:
    """One element of `changes --json`; `review` as review_json gives it."""
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


def version_json(version: VersionRow) -> dict:
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


def document_summary_json(document: DocumentSummaryRow, source: SourceRow) -> dict:
    return {
        **document_json(document),
        "source": source.name,
        "versions": document.latest_version,
        "first_seen_at": iso(document.first_seen_at),
        "last_seen_at": iso(document.last_seen_at),
        "removed_at": iso(document.removed_at),
    }


class FilterError(ValueError):
    """A filter value that cannot be used, phrased for the reader."""


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_moment(name: str, text: str, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or time, in UTC. A bare date means its start, or with `end_of_day` its end.

    The one reader of since/until for the pages, the API and `rulewatch changes`; `name` is
    the parameter or option the FilterError names."""
    text = text.strip()
    try:
        if _DATE_ONLY.match(text):
            day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"{name}: expected an ISO 8601 date or time such as 2026-11-25 or 2026-11-25T10:00:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-01:00 is in year 10000 in UTC
        raise FilterError(f"{name}: {text!r} is outside years 1 to 9999 once in UTC") from None
