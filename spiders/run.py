"""Runs one check of the given sources in this process, then exits.

Every check runs in a process of its own (`python -m spiders.run`), started by
tracker.crawl. A Twisted reactor cannot be restarted inside one process, and a
fresh process per check also keeps memory flat and a crash contained; the cost
is about a second of start-up per check, small beside polite crawl delays.
Progress goes to stderr; the last line on stdout is a JSON summary per source.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict

from scrapy.crawler import CrawlerProcess

import importlib
from spiders.settings import crawl_settings
from storage.db import DatabaseError, open_database, session_scope, utcnow
from storage.repository import ensure_source, latest_validators, list_documents
from tracker.config import Config, ConfigError, load_config
from tracker.ingest import Ingestor

# Source kind -> "module:class" of its spider, imported only when a source of that kind runs.
SPIDERS = {
    "page": "spiders.page:PageSpider",
    "site": "spiders.site:SiteSpider",
    "federal_register": "spiders.federal_register:FederalRegisterSpider",
    "ecfr": "spiders.ecfr:EcfrSpider",
}


def spider_class(kind: str):
    module, _, name = SPIDERS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


# These log a traceback for every failed fetch; the tracker reports each failure in one line.
QUIETED_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry")


def run_checks(config: Config, names: list[str]) -> dict[str, dict]:
    engine = open_database(config.database_url)
    process = CrawlerProcess(crawl_settings(config.fetch))
    for name in QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    results: dict[str, dict] = {}
    ingestors: dict[str, Ingestor] = {}
    for name in names:
        source = config.source(name)
        with session_scope(engine) as session:
            row = ensure_source(session, source.name, source.kind)
            waiting_until = row.retry_after
            validators = latest_validators(session, row.id)
            known_urls = [d.url for d in list_documents(session, row.id) if d.removed_at is None]
        if waiting_until and waiting_until > utcnow():
            results[name] = {"skipped": f"the server asked us to wait until {waiting_until.isoformat()} (Retry-After)"}
            continue
        ingestors[name] = Ingestor(engine, source, expectations=config.expectations)
        process.crawl(
            spider_class(source.kind), source=source, validators=validators, known_urls=known_urls,
            ingestor=ingestors[name],
        )
    if ingestors:
        process.start()
    for name, ingestor in ingestors.items():
        results[name] = asdict(ingestor.finish())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spiders.run")
    parser.add_argument("--config")
    parser.add_argument("--source", action="append", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        results = run_checks(config, args.source)
    except (ConfigError, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
