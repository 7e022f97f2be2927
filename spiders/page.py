"""The `page` source: one URL, optionally narrowed to a CSS selector (narrowed in tracker).

One PageSpider checks every page source of a check, in one crawler: robots.txt is
read once per host and the per-host delay applies to all of them, as politeness
requires; each request carries its source's name, and each source keeps its own
Ingestor.
"""

from __future__ import annotations

import scrapy

from spiders.base import TrackingSpider


class PageSpider(TrackingSpider):
    kind = "page"

    def __init__(self, pages: list[tuple], **kwargs):
        """`pages`: (SourceConfig, its stored validators, its Ingestor) for each page source."""
        scrapy.Spider.__init__(self, name="pages", **kwargs)
        self.source = None  # several: each request names its own
        self.pages = {source.name: (source, validators, ingestor) for source, validators, ingestor in pages}

    def ingestor_for(self, source_name: str):
        return self.pages[source_name][2]

    async def start(self):
        for source, validators, _ in self.pages.values():
            yield self.tracked_request(source.url, key=source.url, source=source, validators=validators)

    def parse(self, response):
        yield self.outcome(response)
