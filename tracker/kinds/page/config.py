"""A `page` source: one URL, optionally narrowed to a CSS selector."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.settings import SourceConfig


@dataclass(frozen=True, kw_only=True)
class PageConfig(SourceConfig):
    url: str = field(metadata={"check": "url"})
    selector: str = field(default="", metadata={"check": "css"})
