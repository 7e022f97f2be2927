"""The `page` source: one URL, optionally narrowed to a CSS selector (narrowed in tracker)."""

from __future__ import annotations

from spiders.base import TrackingSpider


class PageSpider(TrackingSpider):
    kind = "page"

    async def start(self):
        yield self.tracked_request(self.source.url, key=self.source.url)

    def parse(self, response):
        yield self.outcome(response)
