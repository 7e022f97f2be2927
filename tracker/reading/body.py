"""Choosing how to read a fetched body: by its declared type, then by its bytes."""

from __future__ import annotations

import json

from tracker.items import FailureReason, Snapshot, media_type, sniff
from tracker.reading.content import Content
from tracker.reading.decode import decode
from tracker.reading.errors import ContentError, SelectorNotFound, UnreadableDocument
from tracker.reading.html import normalize_html
from tracker.reading.text import normalize_pdf, normalize_text

# Raised whenever reading the same bytes gives different content (normalize, the source
# readers), so ingest compares a document's new content with its last version read again,
# and an upgrade of Rulewatch never reads as a change of every document.
READER = 2


def read_body(snapshot: Snapshot, selector: str | None = None) -> Content:
    """An HTML page (narrowed to `selector`), a PDF, plain text or JSON, by its declared type, then its bytes."""
    try:
        return _content(snapshot, selector)
    except SelectorNotFound as exc:
        raise ContentError(f"{exc} at {snapshot.final_url}", FailureReason.SELECTOR_GONE) from None
    except UnreadableDocument as exc:  # a damaged PDF, a page nested too deep or too big
        raise ContentError(f"{exc} ({snapshot.final_url})") from None


def _content(snapshot: Snapshot, selector: str | None) -> Content:
    declared, charset = media_type(snapshot.content_type)
    kind = declared if declared and declared != "application/octet-stream" else sniff(snapshot.body)
    if not snapshot.body.strip():
        raise ContentError(f"empty response body from {snapshot.final_url}")
    if kind == "application/pdf" or snapshot.body.startswith(b"%PDF-"):
        return normalize_pdf(snapshot.body)
    if kind in ("text/html", "application/xhtml+xml"):
        return normalize_html(decode(snapshot.body, charset), selector, base_url=snapshot.final_url)
    if kind == "text/plain":
        return normalize_text(decode(snapshot.body, charset))
    if kind == "application/json" or kind.endswith("+json"):
        return _json_content(snapshot, charset)
    raise ContentError(
        f"unsupported content type {declared or 'unknown'!r} at {snapshot.final_url}; "
        "point the source at an HTML, PDF, text or JSON document"
    )


def _json_content(snapshot: Snapshot, charset: str | None) -> Content:
    text = decode(snapshot.body, charset)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ContentError(f"malformed JSON from {snapshot.final_url}: {exc}") from None
    return normalize_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
