"""The URL policy: which URLs a crawl may request (http(s) on the allowed hosts, nothing else)."""

import importlib

import pytest
from scrapy.settings import Settings

from spiders.policy import UrlPolicy
from spiders.settings import crawl_settings
from tracker.settings import FetchConfig

POLICY = UrlPolicy.of(["www.bis.gov", "127.0.0.1:8000", "[::1]:8080", "bücher.example"])


@pytest.mark.parametrize(
    "url",
    [
        "https://www.bis.gov/x",
        "http://www.bis.gov/x",
        "https://WWW.BIS.GOV./x",
        "https://www.bis.gov:443/x",
        "http://www.bis.gov:80/x",
        "http://127.0.0.1:8000/x",
        "https://127.0.0.1:8000/x",
        "http://[::1]:8080/",
        "http://[0:0::1]:8080/",
        "https://xn--bcher-kva.example/",
        "https://bücher.example/",
    ],
)
def test_allowed(url):
    assert POLICY.allows(url), POLICY.refusal(url)


@pytest.mark.parametrize(
    "url, words",
    [
        ("file:///etc/passwd", "not an http(s) URL"),
        ("ftp://www.bis.gov/x", "not an http(s) URL"),
        ("data:text/html,hi", "not an http(s) URL"),
        ("javascript:alert(1)", "not an http(s) URL"),
        ("www.bis.gov/x", "not an http(s) URL"),
        ("https://www.bis.gov:8443/x", "www.bis.gov:8443 is not an allowed host"),  # a bare host: default ports only
        ("http://www.bis.gov:443/x", "www.bis.gov:443 is not an allowed host"),
        ("https://www.bis.gov:80/x", "www.bis.gov:80 is not an allowed host"),
        ("http://127.0.0.1/x", "127.0.0.1:80 is not an allowed host"),
        ("http://127.0.0.1:8001/x", "127.0.0.1:8001 is not an allowed host"),
        ("http://localhost:8000/x", "localhost:8000 is not an allowed host"),
        ("http://2130706433:8000/x", "2130706433:8000 is not an allowed host"),
        ("http://evil.example/www.bis.gov", "evil.example:80 is not an allowed host"),
        ("http://www.bis.gov.evil.example/", "not an allowed host"),
        ("http://www.bis.gov@evil.example/", "credentials"),
        ("http://evil.example@www.bis.gov/", "credentials"),
        ("http://www.bis.gov:99999/", "malformed URL"),
        ("http://www.bis.gov:x/", "malformed URL"),
        ("http://[::1/", "malformed URL"),
        ("http:///x", "malformed URL"),
        (None, "not a URL"),
        (42, "not a URL"),
    ],
)
def test_refused(url, words):
    assert words in POLICY.refusal(url)


def test_a_refusal_lists_the_allowed_hosts():
    assert "(allowed: 127.0.0.1:8000, [::1]:8080, www.bis.gov, xn--bcher-kva.example)" in POLICY.refusal("http://x/")


def scrapy_settings(values) -> Settings:
    settings = Settings()
    settings.setmodule(values) if not isinstance(values, dict) else settings.setdict(values)
    return settings


@pytest.mark.parametrize("which", ["crawl", "project"])
def test_every_spider_reads_http_only_and_meets_the_policy_before_robots_txt(which):
    values = crawl_settings(FetchConfig()) if which == "crawl" else importlib.import_module("spiders.settings")
    settings = scrapy_settings(values)
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in ("file", "ftp", "s3", "data"):
        assert handlers[scheme] is None
    middlewares = settings.getwithbase("DOWNLOADER_MIDDLEWARES")
    robots = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"
    enabled = {path: order for path, order in middlewares.items() if order is not None}
    assert enabled["spiders.policy.UrlPolicyMiddleware"] < min(
        order for path, order in enabled.items() if "robots" in path.lower() or path == robots
    )
