"""A `site` source: a website crawled from its start pages, following matching links."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.settings import SourceConfig


@dataclass(frozen=True, kw_only=True)
class SiteConfig(SourceConfig):
    start_urls: tuple[str, ...] = field(metadata={"check": "urls"})
    follow: tuple[str, ...] = field(default=(), metadata={"check": "regexes"})
    hosts: tuple[str, ...] = field(default=(), metadata={"check": "hosts"})  # default: the start pages' hosts
    max_pages: int = field(default=200, metadata={"minimum": 1})
