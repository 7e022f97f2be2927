"""Hands every fetch outcome to the tracker, the one place that gives it meaning."""

from __future__ import annotations


class IngestPipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        self.crawler.spider.ingestor_for(item.source).handle(item)
        return item
