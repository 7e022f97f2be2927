"""Loopback crawls for the tests, on warm crawl processes as the service runs them.

A test's checks share one crawl process (tracker.crawl.warm.WarmCrawler), started at its
first check and ended with the test (tests/conftest.py): the results of a one-shot crawl
process (launch.run_check), without its second of start-up on every check. The one-shot
path keeps its own tests: `rulewatch check` (tests/tracker/test_cli.py), tests/test_faults.py
and tests/test_end_to_end.py.
"""

from __future__ import annotations

import os
import signal

from sqlalchemy.engine import Engine

from tracker.crawl.launch import SourceResult
from tracker.crawl.warm import WarmCrawler
from tracker.settings import Config

_crawlers: dict[tuple[str, str], WarmCrawler] = {}


def run_check(config: Config, engine: Engine, names: list[str]) -> list[SourceResult]:
    """launch.run_check's results, on the test's warm crawl process for this config file."""
    key = (str(config.path), config.database_url)
    crawler = _crawlers.get(key)
    if crawler is None:
        crawler = _crawlers[key] = WarmCrawler(config, engine)
    # The test may have loaded the file again (edited: the crawler then starts a new process).
    crawler.config, crawler.engine = config, engine
    return crawler.check(names)


def stop_crawls() -> None:
    """End every warm crawl process the test started: killed, as a test has no use for their goodbyes."""
    while _crawlers:
        _, crawler = _crawlers.popitem()
        for pid in crawler.pids():
            os.kill(pid, signal.SIGKILL)
        crawler.stop()
