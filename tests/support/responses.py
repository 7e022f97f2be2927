"""Saved answers wrapped as scrapy responses, for calling a spider's callbacks in process.

City-scrapers style: a test builds the Request the spider itself makes (so its meta is the
spider's), wraps saved bytes in a response to it and calls the callback. No crawl process,
no server: what is tested is the reading of the answers, not the fetching.
"""

from __future__ import annotations

import asyncio

import scrapy
from scrapy.http import HtmlResponse, Response


def answer(
    request: scrapy.Request,
    body: bytes,
    *,
    status: int = 200,
    headers: dict | None = None,
    cls: type[Response] = HtmlResponse,
    url: str | None = None,
) -> Response:
    """`body` as the answer to `request`; `url` is where a redirect ended (the request's own by default)."""
    return cls(
        url=url or request.url,
        status=status,
        headers=headers if headers is not None else {"Content-Type": "text/html; charset=utf-8"},
        body=body,
        request=request,
    )


def start_requests(spider: scrapy.Spider) -> list[scrapy.Request]:
    """The requests a spider starts with (its async `start`)."""

    async def collect():
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def requests_in(results) -> list[scrapy.Request]:
    return [result for result in results if isinstance(result, scrapy.Request)]
