"""The `site` kind: bis.gov press releases, guidance and FAQs, HTML pages and PDFs."""

from tracker.kinds.base import Kind
from tracker.kinds.site.config import SiteConfig

KIND = Kind(
    name="site",
    config=SiteConfig,
    spider="tracker.kinds.site.spider:SiteSpider",
    reader="tracker.kinds.site.content:read",
    default_interval="30m",
)
