"""The `page` kind: one URL, like a classic page watcher."""

from tracker.kinds.base import Kind
from tracker.kinds.page.config import PageConfig

KIND = Kind(
    name="page",
    config=PageConfig,
    spider="tracker.kinds.page.spider:PageSpider",
    reader="tracker.kinds.page.content:read",
    default_interval="1h",
    crawl_together=True,
)
