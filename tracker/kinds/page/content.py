"""A page reads as any fetched body does, narrowed to its selector."""

from __future__ import annotations

from tracker.items import Snapshot
from tracker.kinds.page.config import PageConfig
from tracker.reading.body import read_body
from tracker.reading.content import Content


def read(snapshot: Snapshot, source: PageConfig) -> Content:
    return read_body(snapshot, source.selector or None)
