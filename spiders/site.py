"""The `site` source: a website crawled from its start pages, HTML pages and PDFs.

Every page fetched is a tracked document, keyed by its canonical URL, and the
tracker reads it (an HTML page's main content, a PDF's text). The spider only
decides what to fetch: the start pages, the documents already known (so one no
longer linked is still checked, and a 404 is noticed), and the links of HTML
pages that match a `follow` pattern and stay on the allowed hosts.

The allowed hosts are `hosts` ("host" for its default ports, "host:port"), else
the start pages' hosts with the ports written there. No request ever leaves them,
redirects and <meta refresh> included: spiders.policy refuses, before anything
is sent, any other request, which ends as a failure naming it, never a version.
Scrapy's own offsite filter could not see to that: it lets through every request
marked `dont_filter` (as tracked requests are) and it ignores ports.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from scrapy.http import HtmlResponse
from w3lib.url import safe_url_string

from spiders.base import TrackingSpider
from spiders.items import NotModified, Snapshot
from spiders.policy import host_entry
from storage.db import session_scope
from storage.repository import get_document, get_version
from tracker.ingest import load_content


def canonical_url(url: str) -> str:
    """A document's key: scheme and host lower-cased, fragment dropped, query kept."""
    parts = urlsplit(safe_url_string(url.strip()))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


class SiteSpider(TrackingSpider):
    kind = "site"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.follow_patterns = [re.compile(pattern) for pattern in self.source.follow]
        self.scheduled: set[str] = set()  # canonical URLs requested in this crawl
        self.page_cap_logged = False

    # --- what may be fetched -------------------------------------------------------------

    def allowed_hosts(self, source) -> list[str]:
        return list(source.hosts) or [host_entry(url) for url in source.start_urls]

    def allows(self, url: str) -> bool:
        return self.policy.allows(url)

    def follows(self, url: str) -> bool:
        return self.allows(url) and any(pattern.search(url) for pattern in self.follow_patterns)

    def schedule(self, url: str):
        """A request for `url` unless it was requested already or the page cap is reached."""
        key = canonical_url(url)
        if key in self.scheduled:
            return None
        if len(self.scheduled) >= self.source.max_pages:
            if not self.page_cap_logged:
                self.logger.warning("%s: max_pages (%d) reached; %s and later links not fetched",
                                    self.source.name, self.source.max_pages, key)
                self.page_cap_logged = True
            return None
        self.scheduled.add(key)
        return self.tracked_request(key, key=key)

    # --- crawling ----------------------------------------------------------------------------

    async def start(self):
        candidates = list(self.source.start_urls)
        candidates += [url for url in self.known_urls if self.follows(url)]
        for url in candidates:
            request = self.schedule(url)
            if request is not None:
                yield request

    def parse(self, response):
        outcome = self.outcome(response)
        yield outcome
        for url in self.links(response, outcome):
            if self.follows(url):
                request = self.schedule(url)
                if request is not None:
                    yield request

    def links(self, response, outcome) -> list[str]:
        """Where a page links: from its HTML, or, when it answered 304, from its stored version."""
        if isinstance(outcome, Snapshot) and isinstance(response, HtmlResponse):
            links = []
            for href in response.css("a::attr(href)").getall():
                try:
                    links.append(response.urljoin(href.strip()))
                except ValueError:  # a malformed link, e.g. a broken IPv6 address
                    continue
            return links
        if isinstance(outcome, NotModified):
            return self.stored_links(outcome.key)
        return []  # PDFs and failures lead nowhere

    def stored_links(self, key: str) -> list[str]:
        if self.ingestor is None:
            return []
        with session_scope(self.ingestor.engine) as session:
            document = get_document(session, self.ingestor.source_id, key)
            version = get_version(session, document.id, document.latest_version) if document else None
            return list(load_content(session, version).links) if version else []
