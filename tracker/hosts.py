"""Host names and ports as the configuration writes them and the crawl's URL policy compares them."""

from __future__ import annotations

import ipaddress
import re

_HOST = re.compile(r"^(?:\[(?P<ipv6>[^\]]*)\]|(?P<name>[^\s/?#@:\[\]\\]+))(?::(?P<port>[0-9]+))?$")


def parse_host(entry: str) -> tuple[str, int | None]:
    """'www.bis.gov' -> ('www.bis.gov', None); 'Example.org.:8443' -> ('example.org', 8443);
    '[::1]:8080' -> ('::1', 8080). A host as it is compared (see canonical_host); a port
    only when one is written, which spiders.policy reads as "the default ports"."""
    match = _HOST.match(entry)
    if not match:
        raise ValueError(f"expected a host or host:port such as 'www.bis.gov' or '127.0.0.1:8000', got {entry!r}")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"the port of {entry!r} is out of range (1-65535)")
    if match["ipv6"] is not None:
        return str(ipaddress.IPv6Address(match["ipv6"])), port
    return canonical_host(match["name"]), port


def canonical_host(host: str) -> str:
    """A URL's host name as compared: lower case, no trailing dot, IDNA for non-ASCII names,
    an IPv6 address (urlsplit's `hostname`, without brackets) compressed."""
    host = host.lower().rstrip(".")
    if ":" in host:
        return str(ipaddress.IPv6Address(host))
    if not host.isascii():
        host = host.encode("idna").decode("ascii")  # a UnicodeError is a ValueError
    if not host:
        raise ValueError("no host name")
    return host
