"""The long-running service: APScheduler polls each source at its interval.

Each poll is a check of one source on a warm crawl process, one that outlives
the poll (tracker/crawl/warm.py). A source is never polled twice at once, and runs
missed while busy are coalesced into one. The schedule is derived from what
the database remembers (each source's last check and failures), so a restart
neither floods the sources nor forgets them, and repeated failures back off
exponentially. Only the process holding the scheduler lock polls and sends;
another `rulewatch run` on the same database stands by and takes over when the
lock frees. With a [cluster], the checks run on Scrapyd nodes instead: see
tracker/cluster.py.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.db import session_scope, utcnow
from storage.repository import get_source
from tracker.alerts.sender import Sender
from tracker.crawl.warm import WarmCrawler
from tracker.health import held_back_until, next_due
from tracker.heartbeat import HEARTBEAT_INTERVAL, beat
from tracker.printable import PrintableFormatter
from tracker.service.lock import SchedulerLock
from tracker.settings import Config

log = logging.getLogger("rulewatch.scheduler")
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
# At INFO, APScheduler logs every run of every job; our own lines already say what each did.
logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
OUTBOX_INTERVAL = 15  # seconds between outbox drains, besides the one after each poll
STANDBY_RETRY = 5  # seconds between attempts to take over the scheduler lock
CLUSTER_TICK = 2  # seconds between rounds of dispatching to Scrapyd nodes and collecting their results


def configure_logging(level: int = logging.INFO) -> None:
    """The service's log (`rulewatch run`, `serve`): every logger, Uvicorn's included, to stderr, one
    line per record, with control characters in messages (fetched text, request paths) escaped."""
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Uvicorn configures its own loggers (handlers of their own, not propagating) when a server
    # is built with its default log_config; every record goes through the one handler above.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class Service:
    """The scheduler half of `rulewatch run`: standby until the lock is ours, then poll and send."""

    def __init__(self, config: Config, engine: Engine):
        self.config = config
        self.engine = engine
        self.lock = SchedulerLock(engine)
        self.scheduler: BackgroundScheduler | None = None
        self.crawler: WarmCrawler | None = None  # the crawl processes of local polls (no [cluster])
        self._stopping = threading.Event()
        self._guard = threading.Lock()  # one thread at a time uses the lock's connection
        self._thread = threading.Thread(target=self._standby, name="scheduler-standby", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _step_down(self, scheduler: BackgroundScheduler) -> None:
        """The lock was lost (the database restarted): stop polling, then stand by for it again."""
        log.warning("the scheduler lock was lost (did the database restart?); standing by to take it again")
        scheduler.shutdown(wait=False)  # checks already running finish; no new ones start
        if self.crawler is not None:  # a standby keeps no crawl process waiting
            self.crawler.cool_down()
        self._thread = threading.Thread(target=self._standby, name="scheduler-standby", daemon=True)
        self._thread.start()

    def _in_charge(self) -> bool:
        with self._guard:
            if self.lock.still_held():
                return True
            if self.scheduler is not None and self.scheduler.running:
                self._step_down(self.scheduler)
            return False

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=STANDBY_RETRY + 1)
        if self.crawler is not None:  # a check under way ends now, its sources recorded skipped
            self.crawler.stop()
        if self.scheduler is not None and self.scheduler.running:
            log.info("stopping: waiting for running checks to finish")
            self.scheduler.shutdown(wait=True)
        self.lock.release()

    def _standby(self) -> None:
        announced = False
        while not self._stopping.is_set():
            with self._guard:
                try:
                    acquired = self.lock.acquire()
                except SQLAlchemyError as exc:
                    log.warning(
                        "cannot reach the database to take the scheduler lock (%s); retrying in %ds",
                        exc.__class__.__name__,
                        STANDBY_RETRY,
                    )
                    acquired = False
            if acquired:
                self.scheduler = self._build()
                self.scheduler.start()
                if self.config.cluster is None:
                    log.info("scheduler active: polling %d source(s)", len(self.config.sources))
                else:
                    log.info(
                        "scheduler active: dispatching %d source(s) to %d Scrapyd node(s)",
                        len(self.config.sources),
                        len(self.config.cluster.nodes),
                    )
                return
            if not announced:
                log.info("another scheduler holds this database; standing by")
                announced = True
            self._stopping.wait(STANDBY_RETRY)

    def _build(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(timezone=UTC)
        now = utcnow()
        if self.config.cluster is not None:
            from tracker.service.cluster import (
                Dispatcher,
            )

            dispatcher = Dispatcher(self.config, self.engine)
            scheduler.add_job(
                self._dispatch,
                IntervalTrigger(seconds=CLUSTER_TICK),
                args=[dispatcher],
                id="dispatch",
                name="dispatch due checks to Scrapyd",
                max_instances=1,
                coalesce=True,
                next_run_time=now,
            )
        else:
            if self.crawler is None:
                self.crawler = WarmCrawler(self.config, self.engine)
            self.crawler.warm_up()
            for source in self.config.sources:
                with session_scope(self.engine) as session:
                    row = get_source(session, source.name)
                    first = next_due(row, source.interval, self.config.fetch.retry_after_max, now)
                scheduler.add_job(
                    self._poll,
                    # Up to a tenth of the interval later, so sources polled alike spread out.
                    IntervalTrigger(seconds=source.interval, jitter=source.interval / 10),
                    args=[source.name],
                    id=f"source:{source.name}",
                    name=f"check {source.name}",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=source.interval,
                    next_run_time=first,
                )
        for job, seconds, name in (
            (self._drain, OUTBOX_INTERVAL, "send due mail"),
            (self._heartbeat, HEARTBEAT_INTERVAL, "heartbeat"),
            (self._in_charge, STANDBY_RETRY, "check the scheduler lock"),
        ):
            scheduler.add_job(
                job,
                IntervalTrigger(seconds=seconds),
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                next_run_time=now,
            )
        return scheduler

    def _poll(self, name: str) -> None:
        if not self._in_charge():
            return
        source = self.config.source(name)
        with session_scope(self.engine) as session:
            row = get_source(session, name)
            held = held_back_until(row, source.interval, self.config.fetch.retry_after_max, utcnow())
            if row is not None and held is not None:
                log.info(
                    "%s: held back (%d failure(s) in a row, or the server's Retry-After); next check at %s",
                    name,
                    row.consecutive_failures,
                    held.isoformat(),
                )
                return
        assert self.crawler is not None, "the crawler is made when the service starts polling"
        for result in self.crawler.check([name]):
            log.info("%s", result.line())
        self._drain()

    def _dispatch(self, dispatcher) -> None:
        if not self._in_charge():
            return
        if dispatcher.tick():
            self._drain()

    def _drain(self) -> None:
        report = Sender(self.config, self.engine).drain()
        if report.busy:
            log.info("%s", report.line())

    def _heartbeat(self) -> None:
        with session_scope(self.engine) as session:
            beat(session, holder=f"{socket.gethostname()}:{os.getpid()}")


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
    service = Service(config, engine)
    service.start()
    log.info("web app on %s; stop with Ctrl-C", config.web.base_url)
    try:
        serve(config, engine)
    finally:
        service.stop()
