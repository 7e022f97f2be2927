"""The `page` source: one URL, optionally narrowed to a CSS selector (narrowed in tracker).

One PageSpider checks every page source of a check, in one crawler; each request
carries its source's name, and each source keeps its own Ingestor. robots.txt and
the per-host delay are shared with the check's other crawlers (spiders.politeness).

A page source fetches from its URL's host only, on the port written there (else
the default ports): a redirect or <meta refresh> elsewhere is refused
(spiders.policy).
"""

from __future__ import annotations

import scrapy

from spiders.base import TrackingSpider
from spiders.policy import NOTHING_ALLOWED, UrlPolicy, host_entry
from spiders.politeness import SharedHosts
from tracker.kinds.page.config import PageConfig


class PageSpider(TrackingSpider[PageConfig]):
    kind = "page"

    def __init__(self, sources: list[tuple], shared_hosts: SharedHosts | None = None, **kwargs):
        """`sources`: (PageConfig, its stored validators, its Ingestor) for each page source.
        Several sources, so no `self.source`: each request names its own."""
        scrapy.Spider.__init__(self, name="pages", **kwargs)
        self.shared_hosts = shared_hosts or SharedHosts()
        self.pages = {source.name: (source, validators, ingestor) for source, validators, ingestor in sources}
        self.policies = {source.name: UrlPolicy.of(self.allowed_hosts(source)) for source, *_ in sources}
        self.policy = UrlPolicy().union(*self.policies.values())  # for requests of no source: robots.txt

    def ingestor_for(self, source_name: str):
        return self.pages[source_name][2]

    def allowed_hosts(self, source: PageConfig) -> list[str]:
        return [host_entry(source.url)]

    def url_policy(self, source_name: str | None = None) -> UrlPolicy:
        if source_name is None:
            return self.policy
        return self.policies.get(source_name, NOTHING_ALLOWED)

    async def start(self):
        for source, validators, _ in self.pages.values():
            yield self.tracked_request(source.url, key=source.url, source=source, validators=validators)

    def parse(self, response):
        yield self.outcome(response)
