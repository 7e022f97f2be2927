"""Runs one check of the given sources in this process, then exits.

A check runs in a crawl process, never in the service: a Twisted reactor cannot be
restarted inside one process, and a separate process keeps a crash contained.
`rulewatch check` starts this one-shot worker (`python -m tracker.crawl.worker`, from
tracker.crawl.launch), paying about a second of start-up; the service keeps a warm
process that runs check after check on one reactor (tracker.crawl.warm_worker).
Progress goes to stderr, every line with its control characters escaped (fetched
text cannot forge a line); the last line on stdout is a JSON summary per source.
On a Scrapyd node the same checks run as the `check` spider (spiders/check.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from scrapy.crawler import CrawlerProcess

from spiders.politeness import SharedHosts
from spiders.settings import crawl_settings
from storage.db import DatabaseError, open_database
from tracker.config import load_config
from tracker.crawl.orders import escape_log_messages, quiet_noisy_loggers
from tracker.crawl.plans import finish_crawls, plan_crawls, spider_storing_here
from tracker.settings import Config, ConfigError


def crawl_here(config: Config, names: list[str]) -> dict[str, dict]:
    engine = open_database(config.database_url)
    escape_log_messages()
    process = CrawlerProcess(crawl_settings(config.fetch))
    quiet_noisy_loggers()
    crawls, results = plan_crawls(config, engine, names)
    shared = SharedHosts()  # robots.txt once per host, one per-host delay for the whole check
    for crawl in crawls:
        spider, arguments = spider_storing_here(crawl, config, engine, shared)
        process.crawl(spider, **arguments)
    if crawls:
        process.start()
    results.update(finish_crawls(crawls))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.crawl.worker")
    parser.add_argument("--config")
    parser.add_argument("--source", action="append", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        results = crawl_here(config, args.source)
    except (ConfigError, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
