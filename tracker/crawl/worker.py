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
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from scrapy.crawler import CrawlerProcess
from sqlalchemy.engine import Engine

from spiders.politeness import SharedHosts
from spiders.settings import crawl_settings
from storage.db import DatabaseError, open_database, session_scope, utcnow
from storage.repository import get_document, get_version, list_documents, stored_id
from tracker.config import load_config
from tracker.crawl.rows import source_rows, validators_by_source
from tracker.health import waiting_until
from tracker.ingest import Ingestor, finish_checks
from tracker.kinds import kind_of
from tracker.printable import printable
from tracker.settings import Config, ConfigError
from tracker.stored import load_content

# These log a traceback for every failed fetch; the tracker reports each failure in one line.
QUIETED_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry")


def quiet_noisy_loggers() -> None:
    for name in QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


class EscapedLogRecord(logging.LogRecord):
    """A log record whose message has its control characters escaped (tracker.printable)."""

    def getMessage(self) -> str:
        return printable(super().getMessage())


def escape_log_messages() -> None:
    """Every log line of this crawl process shows fetched text escaped.

    Scrapy's own lines quote what servers send (URLs, a Content-Encoding header…), and
    an ESC or a newline there could forge or erase a line. Set on the records, not on a
    handler: Scrapy installs a new root handler for every crawler it creates. Escaped
    when a handler formats the record, so the DEBUG lines nobody shows cost nothing."""
    logging.setLogRecordFactory(EscapedLogRecord)


@dataclass
class PreparedCrawl:
    """A spider ready to crawl, and the Ingestor of each source it checks."""

    spider: type
    arguments: dict
    ingestors: list[Ingestor]


def prepare_crawls(config: Config, engine: Engine, names: list[str]) -> tuple[list[PreparedCrawl], dict[str, dict]]:
    """The spiders to run for `names`, and the results of the sources skipped for now.

    The sources of a kind that crawls together (`page`) share one spider; every other
    source gets a spider of its own. All of them share one SharedHosts: robots.txt read
    once per host, one per-host delay for the whole check.
    """
    shared = SharedHosts()
    crawls: list[PreparedCrawl] = []
    together: dict[str, list[tuple]] = {}  # kind -> (source, validators, ingestor) of each source
    skipped: dict[str, dict] = {}
    with session_scope(engine) as session:  # one transaction for all: a pass may cover hundreds
        rows = source_rows(session, config, names)
        validators_of = validators_by_source(session, [stored_id(row) for row in rows.values()])
        for name in names:
            source = config.source(name)
            kind = kind_of(source.kind)
            row = rows[name]
            until = waiting_until(row, config.fetch.retry_after_max)
            if until and until > utcnow():
                waiting = f"the server asked us to wait until {until.isoformat()} (Retry-After)"
                skipped[name] = {"skipped": waiting}
                continue
            validators = validators_of[stored_id(row)]
            ingestor = Ingestor(
                engine,
                source,
                expectations=config.expectations,
                row=row,
                document_budget=config.fetch.document_budget,
                retry_after_max=config.fetch.retry_after_max,
            )
            if kind.crawl_together:
                together.setdefault(source.kind, []).append((source, validators, ingestor))
                continue
            known_urls = [d.url for d in list_documents(session, stored_id(row)) if d.removed_at is None]
            arguments = {
                "source": source,
                "validators": validators,
                "known_urls": known_urls,
                "ingestor": ingestor,
                "shared_hosts": shared,
                "stored_links": stored_links_of(engine, stored_id(row)),
            }
            crawls.append(PreparedCrawl(kind.spider_class(), arguments, [ingestor]))
    for kind_name, sources in together.items():
        crawls.append(
            PreparedCrawl(
                kind_of(kind_name).spider_class(),
                {"sources": sources, "shared_hosts": shared},
                [ingestor for *_, ingestor in sources],
            )
        )
    return crawls, skipped


def stored_links_of(engine: Engine, source_id: int) -> Callable[[str], list[str]]:
    """The links of a document's stored version, by key: how a spider follows a page that answered 304."""

    def links(key: str) -> list[str]:
        with session_scope(engine) as session:
            document = get_document(session, source_id, key)
            version = get_version(session, stored_id(document), document.latest_version) if document else None
            return list(load_content(session, version).links) if version else []

    return links


def finish_crawls(checks: list[PreparedCrawl]) -> dict[str, dict]:
    """Record each finished check on its source, in one transaction; the tallies, by source name."""
    ingestors = [ingestor for check in checks for ingestor in check.ingestors]
    if not ingestors:
        return {}
    with session_scope(ingestors[0].engine) as session:
        tallies = finish_checks(session, ingestors)
    return {ingestor.source.name: asdict(tally) for ingestor, tally in zip(ingestors, tallies, strict=True)}


def crawl_here(config: Config, names: list[str]) -> dict[str, dict]:
    engine = open_database(config.database_url)
    escape_log_messages()
    process = CrawlerProcess(crawl_settings(config.fetch))
    quiet_noisy_loggers()
    checks, results = prepare_crawls(config, engine, names)
    for check in checks:
        process.crawl(check.spider, **check.arguments)
    if checks:
        process.start()
    results.update(finish_crawls(checks))
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
