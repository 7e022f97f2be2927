"""What spiders yield: the outcome of one fetch, with its evidence.

Spiders know nothing about diffs or alerts; the pipeline hands these to
tracker.ingest, which decides what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass
class FetchFailed:
    """A fetch that produced no content. `gone` is a 404/410: the page may be removed."""

    source: str
    key: str
    url: str
    fetched_at: datetime
    error: str
    status: int | None = None
    gone: bool = False
    retry_after: datetime | None = None


@dataclass
class ListingRead:
    """A search or listing answered well, whatever it listed: the source is reachable."""

    source: str
    url: str
    fetched_at: datetime
