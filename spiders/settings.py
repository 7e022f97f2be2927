"""Scrapy settings: the project's (what Scrapyd loads), and polite crawl settings from [fetch].

Both enable, for every spider, the URL policy (spiders.policy: http(s) on the
source's allowed hosts only, checked before robots.txt) and turn off Scrapy's
file, ftp, s3 and data download handlers: a crawl reads nothing but http(s).
robots.txt and the per-host delay are shared by the crawlers of a check
(spiders.politeness).
"""

from __future__ import annotations

from scrapy.settings import default_settings

from tracker.settings import FetchConfig

# The Scrapy project a Scrapyd node serves: one spider, `check` (spiders/check.py).
BOT_NAME = "rulewatch"
SPIDER_MODULES = ["tracker.crawl.scrapyd_job"]
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # Scrapy's per-job HTTP console: not wanted on a crawl node
LOG_LEVEL = "INFO"
_POLITE_HTTP = "spiders.politeness.PoliteDownloadHandler"
DOWNLOAD_HANDLERS = {"http": _POLITE_HTTP, "https": _POLITE_HTTP, "file": None, "ftp": None, "s3": None, "data": None}
DOWNLOADER_MIDDLEWARES = {
    # Before the robots.txt middleware (100), so a refused host is not even asked for its robots.txt.
    "spiders.policy.UrlPolicyMiddleware": 40,
    "spiders.policy.LenientMetaRefresh": 580,
    "spiders.politeness.SharedRobotsTxtMiddleware": 100,
    # Nearest the wire: what was sent and received, before redirects and decoding (a version's WARC evidence).
    "spiders.exchange.ExchangeRecorder": 950,
}
ROBOTSTXT_PARSER = "spiders.politeness.RobotParser"  # also matches the path a server serves (%2e%2e)
# Scrapy's own components, less those not wanted, are given as the *_BASE settings: an entry
# of the overrides set to None would still be imported (Scrapy loads every component an
# override names to normalize it), and some modules are heavy: remote_control imports
# aiohttp, cookies tldextract and requests (~12 MB in every crawl process, for nothing).
UNWANTED = {
    # Extensions: stats nobody reads, and consoles, feeds, throttling nobody configures.
    *default_settings.EXTENSIONS_BASE,
    # Downloader middlewares: the URL policy decides what is offsite; no spider uses HTTP auth,
    # cookies (off: COOKIES_ENABLED), stats or the HTTP cache; two are replaced by our own.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    "scrapy.downloadermiddlewares.stats.DownloaderStats",
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",  # SharedRobotsTxtMiddleware
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",  # LenientMetaRefresh
    # Spider middlewares: no length limit (the server decides), no depth tracking, no check
    # meant for spider authors.
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware",
    "scrapy.spidermiddlewares.depth.DepthMiddleware",
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware",
}


def wanted(base: dict[str, int]) -> dict[str, int]:
    return {path: order for path, order in base.items() if path not in UNWANTED}


EXTENSIONS_BASE = wanted(default_settings.EXTENSIONS_BASE)
DOWNLOADER_MIDDLEWARES_BASE = wanted(default_settings.DOWNLOADER_MIDDLEWARES_BASE)
SPIDER_MIDDLEWARES_BASE = wanted(default_settings.SPIDER_MIDDLEWARES_BASE)


def crawl_settings(fetch: FetchConfig) -> dict:
    return {
        "BOT_NAME": "rulewatch",
        "USER_AGENT": fetch.user_agent,
        "ROBOTSTXT_OBEY": fetch.obey_robots,
        "DOWNLOAD_TIMEOUT": fetch.timeout,
        "DOWNLOAD_MAXSIZE": fetch.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": True,  # a truncated body is a failure, never a version
        "DOWNLOAD_DELAY": fetch.delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # delays vary by ±50%
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        # The pipeline ingests synchronously, so items gain nothing from being handled in
        # parallel; and Scrapy starts this many worker tasks for every response's output.
        "CONCURRENT_ITEMS": 1,
        "RETRY_ENABLED": fetch.retries > 0,
        "RETRY_TIMES": fetch.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "REDIRECT_ENABLED": True,
        "LOG_LEVEL": "WARNING",
        "LOG_INSTALL_ROOT_HANDLER": True,
        "ITEM_PIPELINES": {"spiders.pipelines.IngestPipeline": 100},
        # ReadingErrors, closest to the spider: a callback's error becomes a recorded failure, not a log line.
        "URLLENGTH_LIMIT": 0,  # Scrapy would skip longer URLs with only an INFO line; the server decides
        # Per-request work nobody reads: Scrapy's stats and the extensions that keep or log them
        # (the warm crawl process's memory is watched by tracker.crawl.warm), the offsite filter
        # (the URL policy decides), HTTP auth and depth tracking (no spider uses them), and checks
        # meant for spider authors (Scrapy parses a callback's source for every response to warn).
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "EXTENSIONS_BASE": dict(EXTENSIONS_BASE),
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "SPIDER_MIDDLEWARES_BASE": dict(SPIDER_MIDDLEWARES_BASE),
        "SPIDER_MIDDLEWARES": {"spiders.pipelines.ReadingErrors": 1000},
        "DOWNLOAD_HANDLERS": dict(DOWNLOAD_HANDLERS),
        "DOWNLOADER_MIDDLEWARES_BASE": dict(DOWNLOADER_MIDDLEWARES_BASE),
        "DOWNLOADER_MIDDLEWARES": dict(DOWNLOADER_MIDDLEWARES),
        "ROBOTSTXT_PARSER": ROBOTSTXT_PARSER,
    }
