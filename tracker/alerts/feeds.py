"""Atom and RSS feeds of events: all of them, one source, one document, one subscriber.

An entry carries the change itself (severity, reasons, a redline excerpt) as
escaped HTML, and links to the web diff. The same database state always gives
the same bytes: ids are derived from the event, times come from the events.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from sqlmodel import Session

from storage.models import Document, Event, Subscriber
from storage.repository import get_source, iter_events, list_events, list_sources, review_rows
from storage.reviewable import is_reviewable
from tracker.alerts.event_summary import EventSummary, one_line, summarize_event
from tracker.alerts.subscribers import follows, severity_reaches
from tracker.alerts.tokens import FEED, make_token, signing_key
from tracker.settings import Config
from tracker.shapes import iso, review_json
from tracker.templating import is_http_url

FeedFormat = Literal["atom", "rss"]

FEED_KINDS = ("new", "changed", "removed", "expectation_met")
FEED_SEVERITIES = ("minor", "substantive")  # cosmetic changes never reach a feed
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # `updated` of an empty feed
TAG_DATE = "2025"  # part of every tag: URI; never change it, or every id changes

# Characters XML 1.0 cannot carry at all; fetched text may contain them.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def build_feed(
    session: Session,
    config: Config,
    fmt: FeedFormat,
    *,
    source: str | None = None,
    document_id: int | None = None,
    subscriber: Subscriber | None = None,
    limit: int = 100,
    reviews: bool = False,
) -> bytes:
    """The feed as bytes, newest entry first. Unknown source or document: LookupError.
    With `reviews` (for a reader signed in to the web app) each reviewable entry says where
    its review stands: a `review:STATUS` category, and the status, who, when and notes."""
    if fmt not in ("atom", "rss"):
        raise ValueError(f"unknown feed format {fmt!r}; use atom or rss")
    base = config.web.base_url.rstrip("/")

    # Each scope: the feed's title, its URL path (less the extension), its id and its web page.
    if source is not None:
        row = get_source(session, source)
        if row is None:
            raise LookupError(f"no source named {source!r}")
        events = _feed_events(session, limit, source_id=row.id)
        title, path, key = f"Rulewatch: {row.name}", f"/feeds/sources/{row.name}", f"sources/{row.name}"
        alternate = f"{base}/"
    elif document_id is not None:
        document = session.get(Document, document_id)
        if document is None:
            raise LookupError(f"no document with id {document_id}")
        events = _feed_events(session, limit, document_id=document.id)
        title = f"Rulewatch: {one_line(document.title or document.url, 120)}"
        path, key = f"/feeds/documents/{document.id}", f"documents/{document.id}"
        alternate = f"{base}/documents/{document.id}/diff"
    elif subscriber is not None:
        token = make_token(signing_key(session, config.web.secret_key), subscriber, FEED)
        title, path = "Rulewatch: your subscription", f"/feeds/subscribers/{token}"
        key, alternate = f"subscribers/{subscriber.id}", f"{base}/"
        events = _followed(session, subscriber, limit)
    else:
        title, path, key, alternate = "Rulewatch: all changes", "/feeds/changes", "changes", f"{base}/"
        events = _feed_events(session, limit)

    from feedgen.feed import FeedGenerator  # with its dateutil: loaded by the first feed, not the service

    feed = FeedGenerator()
    feed.id(_tag(base, f"feeds/{key}"))
    feed.title(feed_title(title, fmt))
    feed.subtitle("Changes to US export-control documents, as tracked by Rulewatch")
    feed.link(href=f"{base}{path}.{fmt}", rel="self")
    feed.link(href=alternate, rel="alternate")  # last link added is RSS's <link>
    feed.language("en")
    feed.updated(_aware(events[0].detected_at) if events else EPOCH)
    shown = [e.id for e in events if e.id is not None and is_reviewable(e)] if reviews else []
    rows, notes = review_rows(session, shown)
    for event in events:
        review = review_json(event, rows.get(event.id or 0), notes.get(event.id or 0, [])) if reviews else None
        _add_entry(session, config, base, feed.add_entry(order="append"), event, fmt, review)
    if fmt == "atom":
        return feed.atom_str(pretty=True)
    return feed.rss_str(pretty=True)


def _feed_events(
    session: Session, limit: int, source_id: int | None = None, document_id: int | None = None
) -> list[Event]:
    # A source's first check (baseline) is not news: it would flood readers.
    return list_events(
        session,
        kinds=FEED_KINDS,
        severities=FEED_SEVERITIES,
        baseline=False,
        source_id=source_id,
        document_id=document_id,
        limit=limit,
    )


def _followed(session: Session, subscriber: Subscriber, limit: int) -> list[Event]:
    # What a subscriber follows is decided in Python (JSON lists), so filter as we go.
    names = {s.id: s.name for s in list_sources(session)}
    picked: list[Event] = []
    for event in iter_events(session, kinds=FEED_KINDS, severities=FEED_SEVERITIES, baseline=False):
        if follows(subscriber, event, names.get(event.source_id, "")) and severity_reaches(subscriber, event):
            picked.append(event)
            if len(picked) >= limit:
                break
    return picked


def _add_entry(
    session: Session, config: Config, base: str, entry, event: Event, fmt: FeedFormat, review: dict | None
) -> None:
    summary = summarize_event(session, config, event)  # the same headline, reasons and excerpt as the email
    moment = _aware(event.detected_at)
    entry.id(_tag(base, f"events/{event.id}"))
    entry.title(feed_title(summary.headline, fmt))
    entry.link(href=summary.diff_url, rel="alternate")
    entry.updated(moment)
    entry.published(moment)
    entry.author(name=summary.source)
    entry.category(term=event.kind, label=event.kind.replace("_", " "))
    entry.category(term=f"source:{summary.source}", label=f"source: {summary.source}")
    if event.kind == "changed" and event.severity:
        entry.category(term=f"severity:{event.severity}", label=f"severity: {event.severity}")
    if review is not None:
        label = review["status"].replace("_", " ")
        entry.category(term=f"review:{review['status']}", label=f"review: {label}")
    # type="html" on the summary too: RSS readers take <description> as HTML anyway.
    line = one_line(event.summary, 300) or summary.headline
    entry.summary(xml_safe(html.escape(line)), type="html")
    entry.content(xml_safe(entry_html(summary) + (review_html(review) if review else "")), type="html")


def entry_html(summary: EventSummary) -> str:
    """The entry's content. Fetched text is escaped here, or by excerpt_html in the summary."""
    event = summary.event
    lines = [f"<p><strong>{html.escape(summary.headline)}</strong></p>", "<p>"]
    if event.kind == "changed":
        lines.append(f"Severity: <strong>{html.escape(event.severity or '')}</strong><br>")
    lines.append(f"Source: {html.escape(summary.source)}<br>")
    url = html.escape(summary.document_url)
    if is_http_url(summary.document_url):
        lines.append(f'Document: <a href="{url}">{url}</a><br>')
    else:
        lines.append(f"Document: {url}<br>")
    if event.from_version and event.to_version:
        lines.append(f"Versions {event.from_version} → {event.to_version}<br>")
    elif event.to_version:
        lines.append(f"Version {event.to_version}<br>")
    elif event.from_version:
        lines.append(f"Last version {event.from_version}<br>")
    if summary.fetched_at:
        lines.append(f"Fetched {iso(summary.fetched_at)}, SHA-256 {html.escape(summary.sha256)}<br>")
    lines.append(f"Detected {iso(event.detected_at)}</p>")
    if summary.reasons:
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in summary.reasons)
        lines.append(f"<ul>{items}</ul>")
    if summary.excerpt_html:
        lines.append(summary.excerpt_html)
    lines.append(f'<p><a href="{html.escape(summary.diff_url)}">See the full redline</a></p>')
    return "\n".join(lines)


def review_html(review: dict) -> str:
    """Where an entry's review stands, for a signed-in reader; the notes are people's text: escaped."""
    status = html.escape(review["status"].replace("_", " "))
    who = f" by {html.escape(review['by'])}, {html.escape(review['at'] or '')}" if review["by"] else ""
    lines = [f"<p>Review: <strong>{status}</strong>{who}</p>"]
    if review["notes"]:
        notes = "".join(
            f"<li>{html.escape(n['by'])}, {html.escape(n['at'] or '')}: {html.escape(n['text'])}</li>"
            for n in review["notes"]
        )
        lines.append(f"<ul>{notes}</ul>")
    return "\n" + "\n".join(lines)


def feed_title(text: str, fmt: FeedFormat) -> str:
    """A title as the format needs it. Atom's is plain text (type="text"). RSS 2.0 says nothing, and
    readers take it as HTML: escaped once more here (XML escapes it again), a fetched `<b>` or `&amp;`
    shows as written instead of as markup or as `&`."""
    return xml_safe(html.escape(text, quote=False) if fmt == "rss" else text)


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _tag(base: str, specific: str) -> str:
    """A tag: URI (RFC 4151) that stays the same for as long as base_url's host does."""
    host = urlsplit(base).hostname or "localhost"
    return f"tag:{host},{TAG_DATE}:rulewatch/{specific}"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
