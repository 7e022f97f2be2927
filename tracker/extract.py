"""Choosing how to read a fetched body: by its declared type, then by its bytes."""

from __future__ import annotations

import json

from spiders.items import Snapshot
from tracker.model import Content
from tracker.normalize import (
    SelectorNotFound,
    UnreadableDocument,
    decode,
    normalize_html,
    normalize_pdf,
    normalize_text,
)


# Raised whenever reading the same bytes gives different content (normalize, the source
# readers), so ingest compares a document's new content with its last version read again,
# and an upgrade of Rulewatch never reads as a change of every document.
READER = 2


class ContentError(Exception):
    """A body that was fetched but cannot be turned into content."""


def media_type(content_type: str) -> tuple[str, str | None]:
    """'text/html; charset=UTF-8' -> ('text/html', 'UTF-8')."""
    parts = [p.strip() for p in content_type.split(";")]
    charset = None
    for part in parts[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"\'')
    return parts[0].lower(), charset


def sniff(body: bytes) -> str:
    head = body[:1024].lstrip().lower()
    if body.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<head" in head:
        return "text/html"
    if head.startswith((b"{", b"[")):
        return "application/json"
    return ""


def extract_content(snapshot: Snapshot, selector: str | None = None) -> Content:
    """Source formats that need their own reading say so in `snapshot.extra["format"]`."""
    try:
        return _content(snapshot, selector)
    except SelectorNotFound as exc:
        raise ContentError(f"{exc} at {snapshot.final_url}") from None
    except UnreadableDocument as exc:  # a damaged PDF, a page nested too deep or too big
        raise ContentError(f"{exc} ({snapshot.final_url})") from None


def _content(snapshot: Snapshot, selector: str | None) -> Content:
    source_format = snapshot.extra.get("format")
    if source_format == "federal_register":
        from tracker.sources.federal_register import fr_content

        return fr_content(snapshot)
    if source_format == "ecfr":
        from tracker.sources.ecfr import ecfr_content

        return ecfr_content(snapshot)
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
