"""Reading a Federal Register document: its meaningful fields, then its full text.

A snapshot from tracker.kinds.federal_register.spider holds a document's JSON record (the API's
document, or a public-inspection record when `extra["stage"]` is
"public_inspection") and its full text as the attachment with role "full_text".

The content is a header of the fields a reader cares about, one block each with
a stable prefix ("Status: …", "Citation: …"), then the full text with its
sections. Fields that change on their own are never read: `page_views`,
`regulations_dot_gov_info` (its `checked_regulationsdotgov_at`),
`public_inspection_pdf_url` (its `?1743770708` suffix), `pdf_updated_at`,
`excerpts`, `dockets` (comment counts), search scores. So the same record always
gives the same content, and a page-view count never makes a version.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from tracker.items import Snapshot, media_type, sniff
from tracker.reading.blocks import fold, paragraph_tokens
from tracker.reading.content import Block, Content
from tracker.reading.decode import decode
from tracker.reading.errors import ContentError
from tracker.reading.gpo import plain
from tracker.reading.html import normalize_html, refuse_unreadable_shape
from tracker.reading.text import normalize_text

# "Start Printed Page 4545" markers and their wrappers: page furniture, not text.
_PAGE_MARKERS = ".unprinted-element, .printed-page-wrapper"
_ISSUE_AS_DOCKET = re.compile(r"^\s*Federal Register:", re.I)


def fr_content(snapshot: Snapshot) -> Content:
    record = _record(snapshot)
    if snapshot.extra.get("stage") == "public_inspection":
        fields = _inspection_fields(record)
    else:
        fields = _document_fields(record)
    header = tuple(Block(f"{name}: {value}", section=name) for name, value in fields if value)
    title = _text(record.get("title")) or _subjects(record)
    return Content(title=title, blocks=header + _full_text(snapshot))


def _record(snapshot: Snapshot) -> dict:
    _, charset = media_type(snapshot.content_type)
    try:
        record = json.loads(decode(snapshot.body, charset))
    except ValueError as exc:
        raise ContentError(f"malformed JSON from {snapshot.final_url}: {exc}") from None
    if not isinstance(record, dict):
        raise ContentError(f"malformed JSON from {snapshot.final_url}: expected an object")
    if not record.get("document_number"):
        raise ContentError(f"no document_number in the Federal Register record from {snapshot.final_url}")
    return record


# --- the header -----------------------------------------------------------


def _document_fields(record: dict) -> list[tuple[str, str]]:
    """A published document's meaningful fields, in reading order."""
    status = "Published in the Federal Register"
    if record.get("publication_date"):
        status += f" on {_text(record.get('publication_date'))}"
    cfr_references = [f"{ref.get('title')} CFR {ref.get('part')}" for ref in _dicts(record.get("cfr_references"))]
    return [
        ("Document number", _text(record.get("document_number"))),
        ("Type", _type(record)),
        ("Action", _text(record.get("action"))),
        ("Status", status),
        ("Citation", _text(record.get("citation"))),
        ("Effective date", _text(record.get("effective_on"))),
        ("Comments close", _text(record.get("comments_close_on"))),
        ("Dates", _text(record.get("dates"))),
        ("Abstract", _text(record.get("abstract"))),
        ("CFR references", _join(cfr_references)),
        (
            "RIN",
            _join(
                _items(record.get("regulation_id_numbers")) or sorted(_items(record.get("regulation_id_number_info")))
            ),
        ),
        ("Dockets", _join(_dockets(record))),
        ("Correction of", _document_number(record.get("correction_of"))),
        ("Corrections", _join(_document_number(url) for url in _items(record.get("corrections")))),
        ("Agencies", _agencies(record)),
    ]


def _inspection_fields(record: dict) -> list[tuple[str, str]]:
    """A public-inspection record's meaningful fields: it has no citation, RIN or CFR reference yet."""
    filed = _filed_at(record.get("filed_at"))
    scheduled = _text(record.get("publication_date"))
    status = "On public inspection"
    if filed:
        status += f" since {filed}"
    if scheduled:
        status += f", scheduled for publication on {scheduled}"
    return [
        ("Document number", _text(record.get("document_number"))),
        ("Type", _type(record)),
        ("Status", status),
        ("Editorial note", _text(record.get("editorial_note"))),
        ("Dockets", _join(_items(record.get("docket_numbers")))),
        ("Agencies", _agencies(record)),
    ]


def _dockets(record: dict) -> list:
    ids = _items(record.get("docket_ids")) or [d.get("id") for d in _dicts(record.get("dockets"))]
    # Records from before 2000 list their issue ("Federal Register: January 3, 1994") as a docket.
    return [docket for docket in ids if not _ISSUE_AS_DOCKET.match(str(docket))]


def _type(record: dict) -> str:
    kind, subtype = _text(record.get("type")), _text(record.get("subtype"))
    return f"{kind} ({subtype})" if kind and subtype else kind


def _agencies(record: dict) -> str:
    names = [a.get("name") or a.get("raw_name") for a in _dicts(record.get("agencies"))]
    return _join(names or _items(record.get("agency_names")))


def _subjects(record: dict) -> str:
    return _text(" ".join(str(record.get(f"subject_{i}") or "") for i in (1, 2, 3)))


def _filed_at(value) -> str:
    """'2026-11-24T08:45:00.000-05:00' -> '2026-11-24 08:45-05:00'."""
    text = _text(value)
    try:
        return datetime.fromisoformat(text).isoformat(sep=" ", timespec="minutes")
    except ValueError:
        return text


def _document_number(url) -> str:
    """'https://www.federalregister.gov/api/v1/documents/2026-17324' -> '2026-17324'."""
    text = _text(url)
    if "/" not in text:
        return text
    return urlsplit(text).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")


def _items(value) -> list:
    """A field that should be a list (or an object, for its keys); anything else counts as empty."""
    if isinstance(value, list):
        return [item for item in value if isinstance(item, (str, int, float))]
    if isinstance(value, dict):
        return [str(key) for key in value]
    return []


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _join(values) -> str:
    unique = dict.fromkeys(_text(value) for value in values)  # an ordered set
    return ", ".join(value for value in unique if value)


def _text(value) -> str:
    """A field as a reader sees it: GPO inline markup (SO<INF>2</INF>) as plain text, typography folded."""
    return fold(plain(str(value))) if value is not None else ""


# --- the full text --------------------------------------------------------


def _full_text(snapshot: Snapshot) -> tuple[Block, ...]:
    found = [a for a in snapshot.extra.get("attachments", []) if a.get("role") == "full_text"]
    if not found:
        return ()
    text = found[0]
    declared, charset = media_type(text.get("content_type", ""))
    body = decode(text["body"], charset)
    if declared in ("text/html", "application/xhtml+xml") or sniff(text["body"]) == "text/html":
        refuse_unreadable_shape(body)  # a hostile page is refused before any tree of it is built
        soup = BeautifulSoup(body, "lxml")
        if rendition := _gpo_text_rendition(soup):
            return normalize_text(_unwrap(rendition)).blocks
        for marker in soup.select(_PAGE_MARKERS):
            marker.decompose()
        return normalize_html(str(soup)).blocks
    return normalize_text(body).blocks


def _gpo_text_rendition(soup: BeautifulSoup) -> str:
    """The text of GPO's text rendition (a page that is one <pre>, as raw_text_url serves older documents)."""
    pres = soup.find_all("pre")
    if len(pres) != 1 or soup.body is None:
        return ""
    text = pres[0].get_text()
    return text if soup.body.get_text().strip() == text.strip() else ""


def _unwrap(text: str) -> str:
    """GPO's hard-wrapped lines joined into paragraphs, one per blank-line-separated chunk.

    A paragraph ends at a blank line, or where a line opens a new labelled paragraph with a
    deeper first-line indent ("    (2) such…" after "the Act in…"). A deeper line without a
    label continues the paragraph (a title's hanging indent).
    """
    paragraphs: list[list[str]] = [[]]
    indent = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        words = line.strip()
        depth = len(line) - len(line.lstrip())
        if not words or (paragraphs[-1] and depth > indent and paragraph_tokens(words)):
            paragraphs.append([])
        if words:
            paragraphs[-1].append(words)
            indent = depth
    return "\n\n".join(" ".join(lines) for lines in paragraphs if lines)


def read(snapshot: Snapshot, source: object) -> Content:
    """The kind's reader (tracker.kinds): every FR source reads its documents alike."""
    return fr_content(snapshot)
