"""The `site` source: a website crawled from its start pages, HTML pages and PDFs.

Every page fetched is a tracked document, keyed by its canonical URL, and the
tracker reads it (an HTML page's main content, a PDF's text). The spider only
decides what to fetch: the start pages, the documents already known (so one no
longer linked is still checked, and a 404 is noticed), and the links of HTML
pages that match a `follow` pattern and stay on the allowed hosts.

No request ever leaves the allowed hosts, redirects included. Scrapy's own
offsite filter cannot see to that: it lets through every request marked
`dont_filter` (as tracked requests are, and redirects inherit it) and it
ignores ports. So AllowedHostsMiddleware below refuses, before anything is sent,
any request the spider does not allow; a redirect to another host is a new
request that meets the same check, and ends as a failure, never a version.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from w3lib.url import safe_url_string

from spiders.base import TrackingSpider, now
from spiders.items import FetchFailed, NotModified, Snapshot
from storage.db import session_scope
from storage.repository import get_document, get_version
from tracker.ingest import load_content


def canonical_url(url: str) -> str:
    """A document's key: scheme and host lower-cased, fragment dropped, query kept."""
    parts = urlsplit(safe_url_string(url.strip()))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def host_of(url: str) -> str:
    """'https://WWW.bis.gov:8443/x' -> 'www.bis.gov:8443': the host as written, port included."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


class AllowedHostsMiddleware:
    """Downloader middleware: refuses a request to a host the site spider does not allow."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        spider = self.crawler.spider
        if isinstance(spider, SiteSpider) and not spider.allows(request.url):
            raise IgnoreRequest(f"not an allowed host: {request.url}")
        return None


class SiteSpider(TrackingSpider):
    kind = "site"

    # Before the robots.txt middleware (100), so another host is not even asked for its robots.txt.
    custom_settings = {"DOWNLOADER_MIDDLEWARES": {"spiders.site.AllowedHostsMiddleware": 40}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        configured = self.source.hosts or [host_of(url) for url in self.source.start_urls]
        self.hosts = {host.lower() for host in configured}
        self.follow_patterns = [re.compile(pattern) for pattern in self.source.follow]
        self.scheduled: set[str] = set()  # canonical URLs requested in this crawl
        self.page_cap_logged = False

    # --- what may be fetched -------------------------------------------------------------

    def allows(self, url: str) -> bool:
        """Whether `url` is http(s) on an allowed host: "host:port" as listed, or a listed bare host."""
        try:
            parts = urlsplit(url)
            hostname = parts.hostname or ""
        except ValueError:  # a malformed IPv6 address
            return False
        if parts.scheme not in ("http", "https") or not hostname:
            return False
        return host_of(url) in self.hosts or hostname in self.hosts

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
        if not self.allows(response.url):  # never expected: the middleware refuses such requests
            yield self.refused(response.request)
            return
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

    # --- refusals ----------------------------------------------------------------------------

    def on_error(self, failure):
        request = failure.request
        if failure.check(IgnoreRequest) and not self.allows(request.url):
            yield self.refused(request)
            return
        yield from super().on_error(failure)

    def refused(self, request) -> FetchFailed:
        asked = request.meta.get("redirect_urls", [request.url])[0]
        if request.meta.get("redirect_urls"):
            error = f"redirected to another host: {asked} → {request.url} (not followed)"
        else:
            error = f"not on the allowed hosts ({', '.join(sorted(self.hosts))}): {request.url}"
        return FetchFailed(self.source.name, request.meta.get("rulewatch_key", asked), asked, now(), error=error)
