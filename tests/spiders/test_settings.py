"""The crawl settings: which of Scrapy's components run, and what a crawl process loads."""

import json
import subprocess
import sys

from scrapy.settings import Settings

from spiders.settings import crawl_settings
from tests.conftest import PROJECT_ROOT, sqlite_only
from tracker.settings import FetchConfig

HEAVY = ("aiohttp", "tldextract", "requests")  # what unused components' modules import


def components(name: str) -> set[str]:
    return set(Settings(crawl_settings(FetchConfig())).get_component_priority_dict_with_base(name))


def test_our_middlewares_replace_scrapys_and_the_unused_ones_are_left_out():
    downloader = components("DOWNLOADER_MIDDLEWARES")
    assert {
        "spiders.policy.UrlPolicyMiddleware",
        "spiders.politeness.SharedRobotsTxtMiddleware",
        "spiders.policy.LenientMetaRefresh",
        "spiders.exchange.ExchangeRecorder",
        "scrapy.downloadermiddlewares.retry.RetryMiddleware",
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
    } <= downloader
    left_out = {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
        "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
    }
    assert not left_out & downloader
    spider = components("SPIDER_MIDDLEWARES")
    assert "spiders.pipelines.ReadingErrors" in spider
    assert "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware" in spider
    assert "scrapy.spidermiddlewares.depth.DepthMiddleware" not in spider
    assert components("EXTENSIONS") == set()


@sqlite_only
def test_a_crawl_process_never_imports_the_modules_of_components_it_leaves_out(server, write_config):
    """Scrapy imports every component its settings name, even one set to None: naming the
    unused ones would load aiohttp, tldextract and requests into every crawl (~12 MB)."""
    server.set("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    server.set("/page", "<html><body><main><p>Export rules for items on the list.</p></main></body></html>")
    config = write_config(f'[[sources]]\nname = "guidance"\nkind = "page"\nurl = "{server.url("/page")}"\n')
    script = (
        "import json, sys\n"
        "from tracker.config import load_config\n"
        "from tracker.crawl.worker import crawl_here\n"
        f"results = crawl_here(load_config({str(config)!r}), ['guidance'])\n"
        f"print(json.dumps({{'results': results, 'loaded': sorted(m for m in {HEAVY!r} if m in sys.modules)}}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["results"]["guidance"]["fetched"] == 1, done.stderr
    assert answer["loaded"] == []
