"""What a crawl may request: http(s) on the hosts its source allows, and nothing else.

The rule (SPEC.md "Trust"): a URL, configured or found in fetched data (an API
field, a link, a redirect, a <meta refresh>), is requested only when it is http or
https on a host the source allows. A host written bare allows its default ports
only (80 for http, 443 for https); "host:port" allows that port. URLs carrying
credentials (user@host) are refused. Each spider declares its hosts
(TrackingSpider.allowed_hosts): a page's host, a site's `hosts` (else its start
pages' hosts), the API's host with its port, and for the Federal Register its own
document hosts.

One owner enforces it: UrlPolicyMiddleware, enabled for every spider before the
robots.txt middleware, so a refused host is not even asked for its robots.txt.
Redirects and <meta refresh> (followed by Scrapy, up to its limits) are new
requests that meet the same check (a <meta refresh> whose URL cannot even be
parsed, "url=http://[bad", is ignored as a browser ignores it: the page is kept); a redirect Scrapy leaves unfollowed for its
scheme (file:, data:…) is refused here too, so it reads as what it is. Spiders
also check the URLs they read from data before building a request
(TrackingSpider.refused_url), so the failure names the field. A refusal is a
recorded failure naming the URL, never a fetch. Scrapy's file, ftp, s3 and data
download handlers are off besides (spiders/settings.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from scrapy import Spider
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from w3lib.url import safe_url_string

from tracker.hosts import canonical_host, parse_host
from tracker.printable import printable

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
SHOWN_URL_CHARS = 300  # of a refused URL, in its failure (a data: URL can be megabytes)


class RefusedUrl(IgnoreRequest):
    """A request the URL policy does not allow; the message names the URL and says why."""


def host_entry(url: str) -> str:
    """The host of a configured URL, with its port only when one is written: 'https://X.gov:8443/p' -> 'X.gov:8443'."""
    return urlsplit(url).netloc.rpartition("@")[2]


def shown_url(url: object) -> str:
    text = url if isinstance(url, str) else repr(url)
    return printable(text[:SHOWN_URL_CHARS] + ("…" if len(text) > SHOWN_URL_CHARS else ""))


@dataclass(frozen=True)
class UrlPolicy:
    hosts: frozenset[tuple[str, int | None]] = frozenset()  # (host, port); port None: the default ports

    @classmethod
    def of(cls, entries: Iterable[str]) -> UrlPolicy:
        """From "host" / "host:port" entries (as tracker.config.parse_host reads them)."""
        return cls(frozenset(parse_host(entry) for entry in entries))

    def union(self, *others: UrlPolicy) -> UrlPolicy:
        return UrlPolicy(self.hosts.union(*(other.hosts for other in others)))

    def allows(self, url: object) -> bool:
        return self.refusal(url) is None

    def refusal(self, url: object) -> str | None:
        """Why `url` may not be requested; None when it may."""
        if not isinstance(url, str):
            return "not a URL"
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in DEFAULT_PORTS:
                return "not an http(s) URL"
            if "@" in parts.netloc:
                return "a URL with credentials (user@host) is not fetched"
            host = canonical_host(parts.hostname or "")
            port = parts.port if parts.port is not None else DEFAULT_PORTS[scheme]
        except ValueError as exc:
            return f"malformed URL ({printable(exc)})"
        if (host, port) in self.hosts or (port == DEFAULT_PORTS[scheme] and (host, None) in self.hosts):
            return None
        return f"{spelled(host, port)} is not an allowed host (allowed: {self.describe()})"

    def describe(self) -> str:
        return ", ".join(sorted(spelled(host, port) for host, port in self.hosts)) or "none"


NOTHING_ALLOWED = UrlPolicy()


def spelled(host: str, port: int | None) -> str:
    """('::1', 8080) -> '[::1]:8080'; ('www.bis.gov', None) -> 'www.bis.gov'."""
    return (f"[{host}]" if ":" in host else host) + ("" if port is None else f":{port}")


def refusal_message(request, url: str, reason: str, status: int | None = None) -> str:
    """'not fetched: URL: reason', or how a redirect reached a URL that is not followed."""
    first = (request.meta.get("redirect_urls") or [request.url])[0]
    if status is not None:  # `request`'s own response redirects to `url`
        return f"{shown_url(first)} redirected ({status}) to {shown_url(url)}, not followed: {reason}"
    if request.meta.get("redirect_urls"):  # `request` is the redirect
        how = (request.meta.get("redirect_reasons") or ["redirect"])[-1]
        return f"{shown_url(first)} redirected ({how}) to {shown_url(url)}, not followed: {reason}"
    return f"not fetched: {shown_url(url)}: {reason}"


class UrlPolicyMiddleware:
    """Downloader middleware for every spider: a request its URL policy does not allow is refused unsent.

    A spider without a policy (`url_policy`) may request nothing.
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def policy(self, request) -> UrlPolicy:
        policy_of = getattr(self.crawler.spider, "url_policy", None)
        return policy_of(request.meta.get("rulewatch_source")) if policy_of else NOTHING_ALLOWED

    def process_request(self, request):
        reason = self.policy(request).refusal(request.url)
        if reason:
            raise RefusedUrl(refusal_message(request, request.url, reason))

    def process_response(self, request, response):
        """A redirect Scrapy did not follow for its scheme (file:, data:…) is refused, named."""
        location = response.headers.get("Location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        try:
            target = urljoin(request.url, safe_url_string(location))
        except ValueError:
            target = location.decode("latin-1")
        reason = self.policy(request).refusal(target)
        if reason:
            raise RefusedUrl(refusal_message(request, target, reason, status=response.status))
        return response


class LenientMetaRefresh(MetaRefreshMiddleware):
    """Scrapy's <meta refresh> handling, except that a refresh URL that cannot be parsed
    (an unclosed IPv6 bracket, a port that is not a number) leaves the page as it is,
    where Scrapy's raises ValueError and the whole fetch fails (spiders/settings.py)."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """`spider`: in the signature as in Scrapy's; Scrapy passes it only to methods that require it."""
        try:
            return super().process_response(request, response)
        except ValueError:
            return response
