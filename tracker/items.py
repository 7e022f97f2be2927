"""What spiders yield: the outcome of one fetch, with its evidence.

Spiders know nothing about diffs or alerts; the pipeline hands these to
tracker.ingest, which decides what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and the head of its answer, as the crawler sent and received them:
    what a version's WARC evidence is written from (tracker.exports.warc)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    protocol: str  # "HTTP/1.1"
    response_headers: tuple[tuple[str, str], ...]  # one pair per value, before the body was decoded
    at: datetime  # when the answer's head arrived

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "url": self.url,
            "request_headers": [list(pair) for pair in self.request_headers],
            "status": self.status,
            "protocol": self.protocol,
            "response_headers": [list(pair) for pair in self.response_headers],
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict) -> Exchange:
        return cls(
            method=str(data["method"]),
            url=str(data["url"]),
            request_headers=tuple((str(n), str(v)) for n, v in data.get("request_headers", [])),
            status=int(data["status"]),
            protocol=str(data.get("protocol") or "HTTP/1.1"),
            response_headers=tuple((str(n), str(v)) for n, v in data.get("response_headers", [])),
            at=datetime.fromisoformat(data["at"]),
        )


@dataclass
class Snapshot:
    """A successful fetch: the raw bytes exactly as received."""

    source: str
    key: str  # the document's stable identity (canonical URL, FR number, eCFR part)
    url: str  # what was asked for
    final_url: str  # where it ended up after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime
    title_hint: str = ""
    extra: dict = field(default_factory=dict)
    # The HTTP exchanges the body came from, redirects first and the body's own last.
    exchanges: tuple[Exchange, ...] = ()
    # The body was built by the spider from what it fetched (one record of a listing), not received as it is.
    composed: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class NotModified:
    """The server answered 304 to a conditional request: nothing changed."""

    source: str
    key: str
    url: str
    fetched_at: datetime


class FailureReason(StrEnum):
    """Why a fetch produced no content. Stored on the source (`last_failure_reason`); health
    decides by it, never by the words of the error, which are for people."""

    NETWORK = "network"  # no answer: DNS, connection refused, timed out, broken off
    HTTP_STATUS = "http_status"  # an answer other than 2xx or 304
    ROBOTS = "robots"  # forbidden by robots.txt
    REFUSED_URL = "refused_url"  # a URL outside the source's allowed hosts: never requested
    TOO_LARGE = "too_large"  # a body over [fetch] max_bytes
    ACCESS_PAGE = "access_page"  # an HTML page where an API's data was expected (the FR "Request Access" page)
    UNREADABLE = "unreadable"  # fetched, but not readable as what it should be (malformed JSON or XML, a bad record)
    SELECTOR_GONE = "selector_gone"  # the source's CSS selector matched nothing on the page
    NOT_LISTED = "not_listed"  # a followed item (a RIN) is in none of the source's listings
    TOO_SLOW = "too_slow"  # reading the document ran past [fetch] document_budget
    NOT_STORED = "not_stored"  # read, but the database refused it
    RETRY_AFTER_HELD = "retry_after_held"  # the server asked for a wait longer than [fetch] retry_after_max
    CRAWL_FAILED = "crawl_failed"  # the crawl process crashed, timed out or was lost: no outcome at all


@dataclass
class FetchFailed:
    """A fetch that produced no content. `gone` is a 404/410: the page may be removed."""

    source: str
    key: str
    url: str
    fetched_at: datetime
    error: str
    reason: FailureReason
    status: int | None = None
    gone: bool = False
    retry_after: datetime | None = None


@dataclass
class ListingRead:
    """A search or listing answered well, whatever it listed: the source is reachable."""

    source: str
    url: str
    fetched_at: datetime


def media_type(content_type: str) -> tuple[str, str | None]:
    """'text/html; charset=UTF-8' -> ('text/html', 'UTF-8')."""
    parts = [p.strip() for p in content_type.split(";")]
    charset = None
    for part in parts[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
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
