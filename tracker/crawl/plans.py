"""A check's crawls as the database sees them: orders for the spiders, and an Ingestor per source.

Read in one transaction for every source of the check; the same for a one-shot crawl
process, a Scrapyd job and the service's warm crawl process (where the service plans and
stores, and the crawl process only fetches and reads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Engine

from storage.db import session_scope, utcnow
from storage.repository import get_document, get_version, list_documents, stored_id
from tracker.crawl.orders import CrawlOrder, SourceOrder, spider_arguments
from tracker.crawl.rows import source_rows, validators_by_source
from tracker.health import waiting_until
from tracker.ingest import Ingestor, finish_checks
from tracker.kinds import kind_of
from tracker.settings import Config
from tracker.stored import load_content


@dataclass
class PlannedCrawl:
    """A spider's order, and the Ingestor of each source it checks, by name."""

    order: CrawlOrder
    ingestors: dict[str, Ingestor]


def plan_crawls(config: Config, engine: Engine, names: list[str]) -> tuple[list[PlannedCrawl], dict[str, dict]]:
    """The crawls to run for `names`, and the results of the sources skipped for now.

    The sources of a kind that crawls together (`page`) share one spider; every other
    source gets a spider of its own."""
    crawls: list[PlannedCrawl] = []
    together: dict[str, PlannedCrawl] = {}
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
            ingestor = Ingestor(
                engine,
                source,
                expectations=config.expectations,
                row=row,
                document_budget=config.fetch.document_budget,
                retry_after_max=config.fetch.retry_after_max,
            )
            validators = validators_of[stored_id(row)]
            if kind.crawl_together:
                crawl = together.get(source.kind)
                if crawl is None:
                    crawl = together[source.kind] = PlannedCrawl(CrawlOrder(source.kind, [], True), {})
                crawl.order.sources.append(SourceOrder(name, validators))
                crawl.ingestors[name] = ingestor
                continue
            known_urls = [d.url for d in list_documents(session, stored_id(row)) if d.removed_at is None]
            order = CrawlOrder(source.kind, [SourceOrder(name, validators, known_urls)], False)
            crawls.append(PlannedCrawl(order, {name: ingestor}))
    return crawls + list(together.values()), skipped


def spider_storing_here(crawl: PlannedCrawl, config: Config, engine: Engine, shared_hosts: Any) -> tuple[type, dict]:
    """The spider of `crawl` and its arguments, for a crawl process that stores what it reads
    (the one-shot worker, a Scrapyd job): each source's outcomes go to its Ingestor."""
    ingestors = crawl.ingestors
    arguments = spider_arguments(
        crawl.order,
        config,
        shared_hosts,
        receiver=ingestors.__getitem__,
        stored_links=lambda name: stored_links_of(engine, ingestors[name].source_id),
    )
    return kind_of(crawl.order.kind).spider_class(), arguments


def stored_links_of(engine: Engine, source_id: int) -> Callable[[str], list[str]]:
    """The links of a document's stored version, by key: how a spider follows a page that answered 304."""

    def links(key: str) -> list[str]:
        with session_scope(engine) as session:
            document = get_document(session, source_id, key)
            version = get_version(session, stored_id(document), document.latest_version) if document else None
            return list(load_content(session, version).links) if version else []

    return links


def finish_crawls(crawls: list[PlannedCrawl]) -> dict[str, dict]:
    """Record each finished check on its source, in one transaction; the tallies, by source name."""
    ingestors = [ingestor for crawl in crawls for ingestor in crawl.ingestors.values()]
    if not ingestors:
        return {}
    with session_scope(ingestors[0].engine) as session:
        tallies = finish_checks(session, ingestors)
    return {ingestor.source.name: asdict(tally) for ingestor, tally in zip(ingestors, tallies, strict=True)}
