"""What an event says to a person: headline, reasons, redline excerpt, evidence, links.

Emails and feeds tell the same summary; fetched text in it is plain text, and the
HTML excerpt comes from the diff renderer, which escapes every piece of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from storage.models import Document, Event, Source
from storage.repository import get_version, require_row
from tracker.compare import ComparisonError, compare_versions
from tracker.expectations import met_lead
from tracker.redline.render import excerpt, excerpt_html
from tracker.settings import Config

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int = 160) -> str:
    """Fold newlines and control characters so a title can sit in a header or a subject."""
    folded = " ".join(_CONTROL.sub(" ", text or "").split())
    return folded if len(folded) <= limit else folded[: limit - 1].rstrip() + "…"


@dataclass
class EventSummary:
    event: Event
    source: str
    document: Document
    headline: str  # "Substantive change: <title>"
    reasons: list[str]
    expectations: list[str]  # titles of the expectations met, or (other events) whose thread it joins
    excerpt_text: str
    excerpt_html: str
    diff_url: str
    document_url: str  # where the document itself lives
    fetched_at: datetime | None
    sha256: str

    @property
    def title(self) -> str:
        return one_line(self.document.title or self.document.url)


def headline(event: Event, document: Document, expectation_titles: list[str]) -> str:
    title = one_line(document.title or document.url, 120)
    if event.kind == "changed":
        return f"{(event.severity or 'unknown').capitalize()} change: {title}"
    if event.kind == "new":
        return f"New: {title}"
    if event.kind == "removed":
        return f"Removed: {title}"
    if event.kind == "expectation_met":
        return f"{met_lead(event)}: {one_line(', '.join(expectation_titles) or title, 120)}"
    return f"{event.kind}: {title}"


def diff_url(base_url: str, event: Event) -> str:
    target = event.to_version or event.from_version or 1
    query = f"from={event.from_version}&to={target}" if event.from_version and event.to_version else f"to={target}"
    return f"{base_url}/documents/{event.document_id}/diff?{query}"


def summarize_event(session: Session, config: Config, event: Event) -> EventSummary:
    document = require_row(session, Document, event.document_id)
    source = require_row(session, Source, event.source_id)
    met = event.expectations
    titles = {e.name: e.title for e in config.expectations}
    expectation_titles = [titles.get(name, name) for name in met]
    text, html = "", ""
    version = get_version(session, event.document_id, event.to_version or document.latest_version)
    if event.to_version:
        try:
            comparison = compare_versions(session, document, event.from_version, event.to_version)
            text, html = excerpt(comparison.redline), excerpt_html(comparison.redline)
        except ComparisonError:
            pass
    return EventSummary(
        event=event,
        source=source.name,
        document=document,
        headline=headline(event, document, expectation_titles),
        reasons=list(event.reasons) or ([event.summary] if event.summary else []),
        expectations=expectation_titles,
        excerpt_text=text,
        excerpt_html=html,
        diff_url=diff_url(config.web.base_url, event),
        document_url=document.url,
        fetched_at=version.fetched_at if version else None,
        sha256=version.sha256 if version else "",
    )
