"""Records each HTTP exchange as it crossed the wire, for a version's WARC evidence.

A downloader middleware next to the downloader: it sees a request with every
header the other middlewares gave it (User-Agent, Accept-Encoding, validators),
and a response before redirects are followed and before its body is decoded, so
Content-Encoding is still there. The exchanges of one fetch (redirect hops,
retried answers, then the answer whose body is kept) travel in the request's
meta and reach the spider's callback in `response.meta[EXCHANGES]`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response

from tracker.items import Exchange

EXCHANGES = "rulewatch_exchanges"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ExchangeRecorder:
    def process_response(self, request: Request, response: Response) -> Response:
        exchange = Exchange(
            method=request.method,
            url=request.url,
            request_headers=sent_headers(request),
            status=response.status,
            protocol=response.protocol or "HTTP/1.1",
            response_headers=header_pairs(response.headers),
            at=datetime.now(UTC),
        )
        # A new tuple each time: a redirect's or retry's request copies the meta, and with it what came before.
        request.meta[EXCHANGES] = (*request.meta.get(EXCHANGES, ()), exchange)
        return response


def header_pairs(headers) -> tuple[tuple[str, str], ...]:
    """Scrapy's headers as (name, value) pairs, one per value, in order, decoded as Latin-1 (bytes kept)."""
    return tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, values in headers.items() for value in values
    )


def sent_headers(request: Request) -> tuple[tuple[str, str], ...]:
    """The request's headers, with the Host header Twisted's HTTP client adds to each request."""
    pairs = header_pairs(request.headers)
    if any(name.lower() == "host" for name, _ in pairs):
        return pairs
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host += f":{parts.port}"
    return (("Host", host), *pairs)


def exchanges_of(response: Response) -> tuple[Exchange, ...]:
    return tuple(response.meta.get(EXCHANGES, ()))
