"""Hands every fetch outcome to the tracker, the one place that gives it meaning.

Nothing is dropped in silence, and no body reaches the log: Scrapy logs an item
whose pipeline raised with the whole item (its body), and a callback that raised
with a traceback, and either way the document is simply gone. Here a callback's
error becomes a FetchFailed of its source, and the Ingestor records every error
of its own; what still escapes (the database itself failing) is logged in one line.
"""

from __future__ import annotations

import logging

from scrapy.exceptions import CloseSpider

from spiders.base import now
from tracker.items import FailureReason, FetchFailed
from tracker.printable import describe_error

log = logging.getLogger(__name__)


class IngestPipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        try:
            self.crawler.spider.ingestor_for(item.source).handle(item)
        except Exception as exc:
            log.error("%s: the outcome of %s could not be recorded: %s", item.source, item.url, describe_error(exc))
        return item


class ReadingErrors:
    """Spider middleware: a callback that raised while reading a response is a recorded failure."""

    def process_spider_exception(self, response, exception):
        if isinstance(exception, CloseSpider):  # the spider ending the check on purpose
            return None
        meta = response.meta
        return [
            FetchFailed(
                meta.get("rulewatch_source", ""),
                meta.get("rulewatch_key", response.url),
                meta.get("redirect_urls", [response.request.url])[0],
                now(),
                error=f"{response.url} could not be read: {describe_error(exception)}",
                reason=FailureReason.UNREADABLE,
                status=response.status,
            )
        ]
