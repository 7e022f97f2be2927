"""A site's pages and PDFs read as any fetched body does."""

from __future__ import annotations

from tracker.items import Snapshot
from tracker.kinds.site.config import SiteConfig
from tracker.reading.body import read_body
from tracker.reading.content import Content


def read(snapshot: Snapshot, source: SiteConfig) -> Content:
    return read_body(snapshot)
