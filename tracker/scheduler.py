"""The long-running service: APScheduler polls each source at its interval.

Each poll is a `run_check` of one source, so it runs in a child process of its
own (see spiders/run.py). A source is never polled twice at once, and runs
missed while busy or stopped are coalesced into one.
"""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from tracker.alerts.sender import Sender
from tracker.config import Config
from tracker.crawl import run_check

log = logging.getLogger("rulewatch.scheduler")
OUTBOX_INTERVAL = 15  # seconds between outbox drains, besides the one after each poll


def build_scheduler(config: Config, engine: Engine) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=timezone.utc)
    for source in config.sources:
        scheduler.add_job(
            _poll,
            IntervalTrigger(seconds=source.interval, jitter=max(1, source.interval // 10)),
            args=[config, engine, source.name],
            id=f"source:{source.name}",
            name=f"check {source.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=source.interval,
            next_run_time=datetime.now(timezone.utc),
        )
    scheduler.add_job(
        _drain,
        IntervalTrigger(seconds=OUTBOX_INTERVAL),
        args=[config, engine],
        id="outbox",
        name="send due mail",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(timezone.utc),
    )
    return scheduler


def _poll(config: Config, engine: Engine, name: str) -> None:
    for result in run_check(config, engine, [name]):
        log.info("%s", result.line())
    _drain(config, engine)


def _drain(config: Config, engine: Engine) -> None:
    report = Sender(config, engine).drain()
    if report.sent or report.retrying or report.failed:
        log.info("%s", report.line())


def serve_forever(config: Config, engine: Engine) -> None:
    """Poll in the background while the web app serves in the foreground.

    Uvicorn owns SIGINT/SIGTERM: when it stops, the scheduler is shut down
    after the checks already running have finished.
    """
    from tracker.web.app import serve

    # Uvicorn re-raises the signal that stopped it once it is done; by then this
    # no-op handler is back in place, so the shutdown below still runs.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    scheduler = build_scheduler(config, engine)
    scheduler.start()
    log.info("polling %d source(s); web app on %s; stop with Ctrl-C", len(config.sources), config.web.base_url)
    try:
        serve(config, engine)
    finally:
        log.info("stopping: waiting for running checks to finish")
        scheduler.shutdown(wait=True)
