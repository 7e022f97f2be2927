"""Politeness: robots.txt matched as its author meant it.

robots.txt rules are matched by Protego (Scrapy's parser), which compares paths
after normalizing their percent-encoding as RFC 9309 asks (`/%70rivate` is
`/private`). A server also resolves dot segments, spelled plainly or encoded
(`/public/%2e%2e/private/x` serves `/private/x`), which Protego leaves as they
are; so a URL is allowed only when both its path as written and the path the
server will serve are allowed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.python import to_unicode

_ENCODED_DOT = re.compile("%2e", re.I)


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
