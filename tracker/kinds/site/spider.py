"""The `site` source: a website crawled from its start pages, HTML pages and PDFs.

Every page fetched is a tracked document, keyed by its canonical URL, and the
tracker reads it (an HTML page's main content, a PDF's text). The spider only
decides what to fetch: the start pages, the documents already known (so one no
longer linked is still checked, and a 404 is noticed), and the links of HTML
pages that match a `follow` pattern and stay on the allowed hosts. A link that
cannot be read (a broken IPv6 address, a port out of range…) is skipped alone,
and counted in one warning per page.

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
from spiders.policy import host_entry, shown_url
from tracker.items import NotModified, Snapshot
from tracker.kinds.site.config import SiteConfig
from tracker.printable import printable


def canonical_url(url: str) -> str:
    """A document's key: scheme and host lower-cased, fragment dropped, query kept."""
    parts = urlsplit(safe_url_string(url.strip()))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


class SiteSpider(TrackingSpider[SiteConfig]):
    kind = "site"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.follow_patterns = [re.compile(pattern) for pattern in self.source.follow]
        self.scheduled: set[str] = set()  # canonical URLs requested in this crawl
        self.page_cap_logged = False

    # --- what may be fetched -------------------------------------------------------------

    def allowed_hosts(self, source: SiteConfig) -> list[str]:
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
                self.logger.warning(
                    "%s: max_pages (%d) reached; %s and later links not fetched",
                    self.source.name,
                    self.source.max_pages,
                    key,
                )
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
        malformed: list[tuple[str, Exception]] = []
        for link in self.links(response, outcome):
            try:
                request = self.request_for(response, link)
            except Exception as exc:  # a link that cannot be read is skipped alone; the others are followed
                malformed.append((link, exc))
                continue
            if request is not None:
                yield request
        if malformed:
            first_link, first_error = malformed[0]
            self.logger.warning(
                "%s: %d malformed link%s skipped on %s; the first: %s (%s)",
                self.source.name,
                len(malformed),
                "" if len(malformed) == 1 else "s",
                shown_url(response.url),
                shown_url(first_link),
                printable(first_error),
            )

    def links(self, response, outcome) -> list[str]:
        """Where a page links, as written: in its HTML, or, when it answered 304, in its stored version."""
        if isinstance(outcome, Snapshot) and isinstance(response, HtmlResponse):
            return response.css("a::attr(href)").getall()
        if isinstance(outcome, NotModified):
            return self.stored_links(outcome.key)
        return []  # PDFs and failures lead nowhere

    def request_for(self, response, link: str):
        """The request that follows `link` of `response`, or None; raises ValueError when the link is malformed."""
        url = canonical_url(response.urljoin(link.strip()))
        return self.schedule(url) if self.follows(url) else None
