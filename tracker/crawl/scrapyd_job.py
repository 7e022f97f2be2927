"""The `check` spider: what a Scrapyd node runs when a [cluster] is configured.

    scrapy crawl check -a sources=a,b,c -a config=/etc/rulewatch.toml -a run=42

It checks several sources in one job exactly as a local check does (see
spiders/run.py): each source's own spider runs in a crawler of its own, side by
side in this process's reactor, and feeds the same Ingestor. This spider only
starts them, waits for them, and writes the tallies into the `check_run` row
the scheduler created, which is how the results reach the scheduler.
"""

from __future__ import annotations

import json

import scrapy
from scrapy.crawler import CrawlerRunner
from scrapy.settings import Settings
from scrapy.utils.defer import maybe_deferred_to_future

from spiders.politeness import SharedHosts
from spiders.settings import crawl_settings
from storage.db import open_database, session_scope, utcnow
from storage.models import NodeJob
from tracker.config import load_config
from tracker.crawl.orders import escape_log_messages, quiet_noisy_loggers
from tracker.crawl.plans import finish_crawls, plan_crawls, spider_storing_here


class NodeJobSpider(scrapy.Spider):
    name = "check"

    def __init__(self, sources: str = "", config: str | None = None, run: str | None = None, **kwargs):
        super().__init__(**kwargs)
        escape_log_messages()  # fetched text in this job's log lines is shown escaped
        self.source_names = [name.strip() for name in sources.split(",") if name.strip()]
        if not self.source_names:
            raise ValueError("the check spider needs -a sources=NAME[,NAME…]")
        self.config_path = config
        self.run_id = int(run) if run else None
        self.results: dict[str, dict] = {}

    async def start(self):
        config = load_config(self.config_path)
        engine = open_database(config.database_url)
        settings = Settings(crawl_settings(config.fetch))
        if self.settings.get("LOG_FILE"):  # Scrapyd's log file for this job
            settings.set("LOG_FILE", self.settings["LOG_FILE"], priority="cmdline")
        runner = CrawlerRunner(settings)
        quiet_noisy_loggers()
        crawls, self.results = plan_crawls(config, engine, self.source_names)
        shared = SharedHosts()
        for crawl in crawls:
            spider, arguments = spider_storing_here(crawl, config, engine, shared)
            runner.crawl(spider, **arguments)
        await maybe_deferred_to_future(runner.join())
        self.results.update(finish_crawls(crawls))
        if self.run_id is not None:
            record_results(engine, self.run_id, self.results)
        self.logger.info("checked %d source(s): %s", len(self.results), json.dumps(self.results))
        return
        yield  # an async generator of requests, as Scrapy expects; this one makes none


def record_results(engine, run_id: int, results: dict[str, dict]) -> None:
    with session_scope(engine) as session:
        run = session.get(NodeJob, run_id)
        if run is None:
            raise LookupError(f"check run {run_id} is not in the database; was it dispatched by this cluster?")
        run.results = results
        run.finished_at = utcnow()
