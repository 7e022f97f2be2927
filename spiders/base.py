"""What every Rulewatch spider shares: conditional requests, fetch outcomes, its URL policy.

A response becomes a Snapshot (2xx), NotModified (304) or FetchFailed (anything
else); a request that never got a response becomes FetchFailed in the errback.
Each spider declares the hosts its source may fetch from (`allowed_hosts`); the
URL policy built from them is enforced for every request by
spiders.policy.UrlPolicyMiddleware, and a URL read from fetched data is checked
with `refused_url` before a request is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from spiders.exchange import exchanges_of
from spiders.policy import RefusedUrl, UrlPolicy, shown_url
from spiders.politeness import ForbiddenByRobots, SharedHosts
from tracker.items import FailureReason, FetchFailed, NotModified, Snapshot
from tracker.printable import printable
from tracker.settings import SourceConfig

# Statuses handed to the spider instead of being dropped by Scrapy; redirects
# (301/302/303/307/308) are still followed by the redirect middleware.
HANDLED_STATUSES = [304, 400, 401, 403, 404, 405, 406, 410, 429, 451, 500, 501, 502, 503, 504]
GONE_STATUSES = {404, 410}
_SECONDS = re.compile(r"[0-9]+")
LATEST = datetime.max.replace(tzinfo=UTC)
ConfigT = TypeVar("ConfigT", bound=SourceConfig)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class TrackingSpider(scrapy.Spider, Generic[ConfigT]):
    """Base spider: one per configured source. Subclasses build the requests; `ConfigT` is
    their kind's SourceConfig, so they read its keys typed."""

    source: ConfigT

    def __init__(
        self,
        source: ConfigT,
        validators: dict | None = None,
        known_urls: list[str] | None = None,
        ingestor: Any = None,
        shared_hosts: SharedHosts | None = None,
        stored_links: Callable[[str], list[str]] | None = None,
        **kwargs,
    ):
        """`shared_hosts`: what the crawlers of one check share (robots.txt, per-host turns).
        `stored_links`: a document's links in its stored version, by key; handed in by the
        crawl worker, as spiders never read storage."""
        super().__init__(name=source.name, **kwargs)
        self.shared_hosts = shared_hosts or SharedHosts()
        self.source = source
        self.validators = validators or {}  # {url: {"etag", "last_modified"}} of stored versions
        self.known_urls = known_urls or []  # URLs of this source's live documents, to re-check
        self.ingestor = ingestor
        self.stored_links = stored_links or (lambda key: [])
        self.policy = UrlPolicy.of(self.allowed_hosts(source))

    def ingestor_for(self, source_name: str):
        """Who receives the items of `source_name`: this spider's one source, unless a subclass checks several."""
        return self.ingestor

    # --- what may be fetched (spiders.policy) ------------------------------------------------

    def allowed_hosts(self, source: ConfigT) -> list[str]:
        """The hosts `source` may fetch from: "host" (its default ports) or "host:port". Each
        kind's spider names them; a spider that names none may fetch nothing."""
        return []

    def url_policy(self, source_name: str | None = None) -> UrlPolicy:
        """The policy of a request of `source_name` (None: a request of no source, e.g. robots.txt)."""
        return self.policy

    def refused_url(self, url: object, field: str, key: str, source: SourceConfig | None = None) -> FetchFailed | None:
        """A FetchFailed when `url`, read from the `field` of fetched data, may not be requested; else None."""
        source = source or self.source
        reason = self.url_policy(source.name).refusal(url)
        if reason is None:
            return None
        error = f"{field} of {key} not fetched: {shown_url(url)}: {reason}"
        return FetchFailed(source.name, key, shown_url(url), now(), error=error, reason=FailureReason.REFUSED_URL)

    def tracked_request(
        self,
        url: str,
        key: str,
        callback=None,
        conditional: bool = True,
        source: SourceConfig | None = None,
        validators: dict | None = None,
        **meta,
    ) -> scrapy.Request:
        """A request for `url`, conditional on the stored version's validators; `source` and
        `validators` name the request's own when a spider checks several sources."""
        headers = {}
        known = (self.validators if validators is None else validators).get(url, {}) if conditional else {}
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
        return scrapy.Request(
            url,
            headers=headers,
            callback=callback or self.parse,
            errback=self.on_error,
            dont_filter=True,
            meta={
                "handle_httpstatus_list": HANDLED_STATUSES,
                "rulewatch_key": key,
                "rulewatch_source": (source or self.source).name,
                **meta,
            },
        )

    def outcome(self, response: Response) -> Snapshot | NotModified | FetchFailed:
        """Turn a response into what it means for tracking."""
        request = response.request
        if request is None:  # Scrapy hands callbacks responses of requests; a bare one is a programming error
            raise ValueError(f"the response from {response.url} has no request")
        key = response.meta["rulewatch_key"]
        name = response.meta["rulewatch_source"]
        asked = response.meta.get("redirect_urls", [request.url])[0]
        if response.status == 304:
            return NotModified(name, key, asked, now())
        if not 200 <= response.status < 300:
            return FetchFailed(
                name,
                key,
                asked,
                now(),
                error=f"HTTP {response.status} from {response.url}",
                reason=FailureReason.HTTP_STATUS,
                status=response.status,
                gone=response.status in GONE_STATUSES,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return Snapshot(
            source=name,
            key=key,
            url=asked,
            final_url=response.url,
            status=response.status,
            headers=decode_headers(response.headers),
            body=response.body,
            fetched_at=now(),
            exchanges=exchanges_of(response),
        )

    def on_error(self, failure) -> Iterator[FetchFailed]:
        request = failure.request
        reason, error = describe_failure(failure, self.settings)
        yield FetchFailed(
            request.meta.get("rulewatch_source") or self.source.name,
            request.meta.get("rulewatch_key", request.url),
            request.meta.get("redirect_urls", [request.url])[0],
            now(),
            error=error,
            reason=reason,
        )


def describe_failure(failure, settings) -> tuple[FailureReason, str]:
    """Why a request got no response, and a one-line reason a person can act on."""
    url = failure.request.url
    if failure.check(RefusedUrl):
        return FailureReason.REFUSED_URL, str(failure.value)
    if failure.check(ForbiddenByRobots):
        return FailureReason.ROBOTS, f"forbidden by robots.txt: {url}"
    if failure.check(IgnoreRequest):
        return FailureReason.NETWORK, f"{str(failure.value) or 'request ignored'}: {url}"
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        return FailureReason.NETWORK, f"timed out after {settings.getfloat('DOWNLOAD_TIMEOUT'):g}s: {url}"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return FailureReason.NETWORK, f"DNS lookup failed for {url}"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return FailureReason.NETWORK, f"connection refused: {url}"
    if failure.check(DownloadCancelledError) or _over_cap(failure):
        return (
            FailureReason.TOO_LARGE,
            f"response larger than the {settings.getint('DOWNLOAD_MAXSIZE')} byte cap: {url}",
        )
    if failure.check(ResponseDataLossError, ResponseFailed, ResponseNeverReceived):
        return FailureReason.NETWORK, f"response broken off before its end (truncated body): {url}"
    message = printable(str(failure.value).strip()) or failure.value.__class__.__name__
    return FailureReason.NETWORK, f"{failure.value.__class__.__name__}: {message} ({url})"


def _over_cap(failure) -> bool:
    """Scrapy says a body ran over DOWNLOAD_MAXSIZE only in its message."""
    text = str(failure.value).lower()
    return "max size" in text or "maxsize" in text


def decode_headers(headers) -> dict[str, str]:
    decoded = {}
    for name, values in headers.items():
        key = name.decode("latin-1")
        decoded[key] = ", ".join(v.decode("latin-1") for v in values)
    return decoded


def parse_retry_after(value: bytes | None) -> datetime | None:
    """Retry-After, seconds or an HTTP date, as a time; None when absent or unreadable.

    Never raises. A wait too long to represent is the latest time there is: the
    tracker holds it to [fetch] retry_after_max (tracker.ingest.record_failure)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        if _SECONDS.fullmatch(text):
            digits = text.lstrip("0") or "0"
            return LATEST if len(digits) > 12 else now() + timedelta(seconds=int(digits))  # 10^12 s: 31,700 years
        when = parsedate_to_datetime(text)
    except OverflowError:
        return LATEST
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
