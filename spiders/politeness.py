"""Politeness: robots.txt read once per host per check, one delay per host, rules matched as meant.

All the crawlers of one check run side by side in one reactor (spiders/run.py,
spiders/check.py), each with its own downloader; on their own they would each
read robots.txt and keep their own per-host delay, so two sources on one host
doubled the load. One SharedHosts per check is given to every spider of it:

- SharedRobotsTxtMiddleware keeps the robots.txt parsers there: each host's
  robots.txt is read once per check, by whichever crawler asks first.
- PoliteDownloadHandler (Scrapy's HTTP/1.1 handler) takes turns per host name
  there: each request to a host starts at least its crawler's DOWNLOAD_DELAY
  ([fetch] delay, or the Federal Register's floor) after the previous one,
  whichever crawler sent it. Scrapy's own slots still pace each crawler (one
  request at a time per host, with their jitter); this is the floor for the
  check. Turns are handed out in order and no lock is held, so a download
  cancelled midway can never leave a host blocked.

robots.txt rules are matched by Protego (Scrapy's parser), which compares paths
after normalizing their percent-encoding as RFC 9309 asks (`/%70rivate` is
`/private`). A server also resolves dot segments, spelled plainly or encoded
(`/public/%2e%2e/private/x` serves `/private/x`), which Protego leaves as they
are; so a URL is allowed only when both its path as written and the path the
server will serve are allowed (RobotParser).
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit, urlunsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.python import to_unicode

_ENCODED_DOT = re.compile("%2e", re.I)


class SharedHosts:
    """What the crawlers of one check share about each host: robots.txt, and whose turn it is."""

    def __init__(self) -> None:
        self.robots: dict = {}  # "host:port" -> its robots.txt parser, or the Deferred of one being read
        self._next_start: dict[str, float] = {}  # host -> when the latest turn given out starts (monotonic)

    async def turn(self, host: str, delay: float) -> None:
        """Wait for a request's turn at `host`: `delay` seconds after the turn before it."""
        now = time.monotonic()
        start = max(now, self._next_start.get(host, float("-inf")) + delay)
        self._next_start[host] = start
        if start > now:
            await sleep(start - now)


def shared_hosts(crawler) -> SharedHosts:
    """The check's SharedHosts, given to every spider of it (a spider alone gets its own)."""
    spider = crawler.spider
    if getattr(spider, "shared_hosts", None) is None:
        spider.shared_hosts = SharedHosts()
    return spider.shared_hosts


class ForbiddenByRobots(IgnoreRequest):
    """A request robots.txt forbids: told apart by its type, not by Scrapy's wording."""


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, its parsers kept for the whole check."""

    async def robot_parser(self, request):
        self._parsers = shared_hosts(self.crawler).robots
        return await super().robot_parser(request)

    def process_request_2(self, rp, request) -> None:
        """Scrapy's decision, its refusal raised as a ForbiddenByRobots."""
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            raise ForbiddenByRobots(str(exc)) from None


class PoliteDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 download handler, taking turns per host with every crawler of the check."""

    async def download_request(self, request):
        host = urlparse_cached(request).hostname or ""
        await shared_hosts(self._crawler).turn(host, self._crawler.settings.getfloat("DOWNLOAD_DELAY"))
        return await super().download_request(request)


class RobotParser(ProtegoRobotParser):
    """Protego, also asked about the path the server will serve (ROBOTSTXT_PARSER)."""

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        url = to_unicode(url)
        if not super().allowed(url, user_agent):
            return False
        served = served_url(url)
        return served == url or super().allowed(served, user_agent)


def served_url(url: str) -> str:
    """`url` with its dot segments resolved (RFC 3986 5.2.4), "%2e" read as ".": what a server serves."""
    parts = urlsplit(url)
    path = _ENCODED_DOT.sub(".", parts.path)
    if "." not in path:
        return url
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(kept) > 1:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")  # "/a/b/.." is the directory "/a/"
    return urlunsplit((parts.scheme, parts.netloc, "/".join(kept) or "/", parts.query, parts.fragment))
