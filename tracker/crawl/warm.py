"""The service's checks, on warm crawl processes that outlive a poll.

A one-shot crawl process (launch.run_check) pays about a second of start-up for every check,
most of the time from a change to its e-mail when sources are polled often. A WarmCrawler
keeps a crawl process (tracker.crawl.warm_worker) waiting and hands it one check at a time:
it plans the check here (tracker.crawl.plans), the crawl process fetches and reads, and each
outcome it sends back is stored here, so the database's libraries live in this process only.
A process is replaced after `recycle_after` checks, when its memory passes `rss_limit_kb`,
or when the config file changed since it read it. One that dies during a check is replaced
for the next one, and that check's sources are recorded failed; one still busy at the
timeout is killed and recorded the same way. Checks that overlap (several sources due at
once) get a process each, as they did before; one of them stays warm for the next poll.
`stop` ends them all: a check under way is interrupted, its sources recorded skipped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

from storage.db import session_scope
from storage.repository import max_event_id
from tracker.crawl.launch import (
    CHECK_TIMEOUT,
    SourceResult,
    exit_failure,
    interrupted,
    record_check,
    timeout_failure,
    worker_command,
    worker_environment,
)
from tracker.crawl.orders import HEADER, CrawlOrder, write_frame
from tracker.crawl.plans import finish_crawls, plan_crawls, stored_links_of
from tracker.ingest import Ingestor, ReadSnapshot, ingest_reads
from tracker.items import FetchFailed, Snapshot
from tracker.outcomes import ReadingBudget
from tracker.printable import describe_error, printable
from tracker.settings import Config

log = logging.getLogger("rulewatch.crawl")
RECYCLE_AFTER = 200  # checks one process runs before a fresh one takes over
RSS_LIMIT_KB = 300 * 1024  # a process that grew past this after a check is replaced
STOP_GRACE = 5.0  # seconds a process has to end by itself before it is killed
# A crawl process ended by one of these was stopped with the service (the terminal's Ctrl-C
# or a stop of its process group), not by a fault of the sources it was checking.
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
MESSAGES = ("outcome", "links", "done")  # what a crawl process may send
EOF = object()  # a crawl process's output ended
# Snapshots stored in one transaction: at most this many, of this many bytes, the first
# waiting at most this long (an alert does not wait for the end of a large crawl).
BATCH_DOCUMENTS = 100
BATCH_BYTES = 16 * 1024 * 1024
BATCH_SECONDS = 0.5
QUIET_MS = 20  # a crawl process that sent nothing for this long has gone quiet: its batch is stored
PIPE_BYTES = 1 << 20  # its output pipe holds this much (Linux's limit for a user): a batch's worth of frames


def config_stamp(path: Path | None) -> tuple | None:
    """What identifies the config file's content on disk, to notice it was edited."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass
class WorkerAnswer:
    """How a check on a crawl process ended: its results, or why there are none."""

    results: dict | None = None
    crash: str | None = None
    shutdown_signal: int | None = None  # set when a shutdown signal ended the process


@dataclass(eq=False)  # compared and hashed by identity: one running process each
class CrawlProcess:
    process: subprocess.Popen
    stamp: tuple | None
    checks: int = 0
    rss_kb: int = 0
    _pending: bytearray = field(default_factory=bytearray)

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None, "started with stdin=PIPE"
        return self.process.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None, "started with stdout=PIPE"
        return self.process.stdout

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(
        self,
        orders: list[CrawlOrder],
        timeout: float,
        receive: Callable[[tuple], Any],
        idle: Callable[[], None] = lambda: None,
    ) -> WorkerAnswer:
        """Run one check of `orders` on this process, handing each message it sends to
        `receive` (whose answer, if any, goes back to it), for at most `timeout` seconds;
        `idle` is called whenever the process has sent nothing more yet."""
        deadline = time.monotonic() + timeout
        try:
            write_frame(self.stdin, ("check", orders))
        except OSError:
            return self._ended()  # it died before it could take the check
        while True:
            message = self._read_frame(deadline, idle)
            if message is None:
                self.kill()
                return WorkerAnswer(crash=timeout_failure(timeout))
            if message is EOF:
                return self._ended()
            if not isinstance(message, tuple) or not message or message[0] not in MESSAGES:
                self.kill()
                return WorkerAnswer(crash="the crawl process answered something unreadable and was stopped")
            if message[0] == "done":
                self.rss_kb = message[1]
                self.checks += 1
                return WorkerAnswer(results={})
            reply = receive(message)
            if reply is not None:
                try:
                    write_frame(self.stdin, reply)
                except OSError:
                    return self._ended()

    def _read_frame(self, deadline: float, idle: Callable[[], None]) -> Any:
        """The next message the process sends; EOF once its output ended, None at the deadline."""
        header = self._read_exactly(HEADER.size, deadline, idle)
        if header is None or header is EOF:
            return header
        (size,) = HEADER.unpack(header)
        data = self._read_exactly(size, deadline, idle)
        if data is None or data is EOF:
            return data
        try:
            return pickle.loads(data)
        except Exception:
            return ("unreadable",)

    def _read_exactly(self, size: int, deadline: float, idle: Callable[[], None]) -> Any:
        stdout = self.stdout.fileno()
        readable = select.poll()  # not select.select: the service may hold more than 1024 descriptors
        readable.register(stdout, select.POLLIN)
        while len(self._pending) < size:
            if not readable.poll(QUIET_MS):
                idle()
            left = deadline - time.monotonic()
            if left <= 0 or not readable.poll(left * 1000):
                return None
            chunk = os.read(stdout, max(65536, size - len(self._pending)))
            if not chunk:
                return EOF
            self._pending += chunk
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    def _ended(self) -> WorkerAnswer:
        try:
            returncode = self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:  # its output closed, yet it lingers
            self.kill()
            returncode = self.process.returncode
        if -returncode in SHUTDOWN_SIGNALS:
            return WorkerAnswer(shutdown_signal=-returncode)
        if returncode < 0:
            return WorkerAnswer(crash=f"the crawl process was killed by signal {-returncode} during the check")
        return WorkerAnswer(crash=exit_failure(returncode))

    def retire(self, grace: float = STOP_GRACE) -> None:
        """End the process once it has nothing to do: end of its input, then a kill if it lingers."""
        try:
            self.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        """Kill the process if it still runs, and let go of its pipes."""
        if self.alive():
            self.process.kill()
        self.process.wait()
        for pipe in (self.stdin, self.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class SnapshotBatch:
    """The snapshots a crawl process sent, stored together (tracker.ingest.ingest_reads): when
    it has sent nothing more yet, or once they are many, large, or the first waited long."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pending: list[ReadSnapshot] = []
        self.size = 0
        self.since = 0.0

    def add(self, outcome: ReadSnapshot) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(outcome)
        self.size += len(outcome.snapshot.body)
        full = len(self.pending) >= BATCH_DOCUMENTS or self.size >= BATCH_BYTES
        if full or time.monotonic() - self.since >= BATCH_SECONDS:
            self.store()

    def store(self) -> None:
        if not self.pending:
            return
        outcomes, self.pending, self.size = self.pending, [], 0
        try:
            ingest_reads(self.engine, outcomes)
        except Exception as exc:
            urls = printable(", ".join(outcome.snapshot.url for outcome in outcomes[:3]))
            log.error(
                "the outcomes of %d documents (%s…) could not be recorded: %s", len(outcomes), urls, describe_error(exc)
            )


class WarmCrawler:
    """Runs checks the way launch.run_check does, with the same results, on reused processes."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        timeout: float = CHECK_TIMEOUT,
        recycle_after: int = RECYCLE_AFTER,
        rss_limit_kb: int = RSS_LIMIT_KB,
    ):
        self.config = config
        self.engine = engine
        self.timeout = timeout
        self.recycle_after = recycle_after
        self.rss_limit_kb = rss_limit_kb
        self._lock = threading.Lock()
        self._idle: CrawlProcess | None = None  # the one kept warm between checks
        self._busy: set[CrawlProcess] = set()
        self._stopping = False
        self._cold = False  # standing by: no process kept between checks
        self._replacing: threading.Thread | None = None  # retiring a process, then warming up its successor

    def warm_up(self) -> None:
        """Start the process the next check will use, so that check need not wait for it."""
        with self._lock:
            self._cold = False
            if self._idle is None and not self._stopping:
                self._idle = self._start()

    def cool_down(self) -> None:
        """Keep no process warm (the scheduler stands by): the idle one ends now, a busy one
        after its check; warm_up starts again."""
        with self._lock:
            self._cold = True
            idle, self._idle = self._idle, None
        if idle is not None:
            idle.retire()

    def check(self, names: list[str]) -> list[SourceResult]:
        """One pass over the named sources; failures are recorded, never raised.

        Planned and stored here; the crawl process fetches and reads, and sends each outcome."""
        with session_scope(self.engine) as session:
            before = max_event_id(session)
        crawls, results = plan_crawls(self.config, self.engine, names)
        if not crawls:  # every source is waiting (Retry-After)
            return record_check(self.config, self.engine, names, results, None, before)
        worker = self._take()
        if worker is None:
            return interrupted(names, int(signal.SIGTERM))
        ingestors = {name: ingestor for crawl in crawls for name, ingestor in crawl.ingestors.items()}
        batch = SnapshotBatch(self.engine)
        orders = [crawl.order for crawl in crawls]
        answer = worker.ask(orders, self.timeout, partial(self._receive, ingestors, batch), batch.store)
        batch.store()  # what came before the process ended or went quiet
        self._give_back(worker, answer)
        if answer.shutdown_signal is not None or (answer.results is None and self._stopping):
            return interrupted(names, answer.shutdown_signal or int(signal.SIGTERM))
        if answer.results is not None:
            results.update(finish_crawls(crawls))
        return record_check(
            self.config, self.engine, names, results if answer.results is not None else None, answer.crash, before
        )

    def _receive(self, ingestors: dict[str, Ingestor], batch: SnapshotBatch, message: tuple) -> tuple | None:
        """Store an outcome the crawl process sent (a snapshot joins `batch`), or answer its
        question; an error is logged in one line, as the one-shot crawl's pipeline does, and
        never ends the check."""
        kind, name, *rest = message
        ingestor = ingestors.get(name)
        if ingestor is None:
            log.error("the crawl process sent a message of a source it was not asked to check: %r", name)
            return ("links", None) if kind == "links" else None
        if kind == "links":
            batch.store()  # the document asked about may be among them
            try:
                return ("links", stored_links_of(self.engine, ingestor.source_id)(rest[0]))
            except Exception as exc:
                log.error("%s: the stored links of %s could not be read: %s", name, rest[0], describe_error(exc))
                return ("links", None)
        item, read, left = rest
        if isinstance(item, Snapshot):
            batch.add(ReadSnapshot(ingestor, item, read, ReadingBudget(ingestor.document_budget, left)))
            return None
        try:
            if isinstance(item, FetchFailed):
                batch.store()  # the documents sent before it are stored before it
            ingestor.handle(item)
        except Exception as exc:
            log.error("%s: the outcome of %s could not be recorded: %s", name, item.url, describe_error(exc))
        return None

    def stop(self) -> None:
        """End every process: an idle one at once, a busy one by SIGTERM (its check comes back skipped)."""
        with self._lock:
            self._stopping = True
            idle, self._idle = self._idle, None
            busy = list(self._busy)
        for worker in busy:
            if worker.alive():
                worker.process.send_signal(signal.SIGTERM)
        if idle is not None:
            idle.retire()
        for worker in busy:
            try:
                worker.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                worker.process.kill()

    def pids(self) -> list[int]:
        """The crawl processes running now, idle or busy."""
        with self._lock:
            workers = [*self._busy, *([self._idle] if self._idle else [])]
        return [worker.pid for worker in workers if worker.alive()]

    def _start(self) -> CrawlProcess:
        stamp = config_stamp(self.config.path)
        process = subprocess.Popen(
            worker_command(self.config, "tracker.crawl.warm_worker"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            env=worker_environment(self.config),
        )
        try:
            fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[union-attr]
        except OSError:  # the pipe keeps its 64 KB: batches are smaller
            pass
        return CrawlProcess(process, stamp)

    def _take(self) -> CrawlProcess | None:
        replacing = self._replacing
        if replacing is not None:  # its successor comes once it has ended: their memory never adds up
            replacing.join(STOP_GRACE + 1)
        with self._lock:
            if self._stopping:
                return None
            worker, self._idle = self._idle, None
            if worker is not None and (not worker.alive() or worker.stamp != config_stamp(self.config.path)):
                self._retire_later(worker, "the config file changed" if worker.alive() else "it had ended")
                worker = None
            worker = worker or self._start()
            self._busy.add(worker)
            return worker

    def _give_back(self, worker: CrawlProcess, answer: WorkerAnswer) -> None:
        with self._lock:
            self._busy.discard(worker)
            if answer.shutdown_signal is not None:  # the service is being stopped too: nothing to warm up
                worker.kill()
            elif answer.results is None:
                worker.kill()
                log.warning("crawl process %d gave no answer (%s); a new one takes over", worker.pid, answer.crash)
                if self._idle is None and not self._stopping:
                    self._idle = self._start()
            elif worker.checks >= self.recycle_after:
                self._replace_later(worker, f"after {worker.checks} checks")
            elif self.rss_limit_kb and worker.rss_kb > self.rss_limit_kb:
                self._replace_later(worker, f"at {worker.rss_kb // 1024} MB resident")
            elif self._idle is not None or self._stopping or self._cold:
                self._retire_later(worker)  # an overlapping check's process, or none is to be kept warm
            else:
                self._idle = worker

    def _retire_later(self, worker: CrawlProcess, reason: str | None = None) -> None:
        if reason:
            log.info("replacing crawl process %d (%s)", worker.pid, reason)
        threading.Thread(target=worker.retire, name=f"retire-crawl-{worker.pid}", daemon=True).start()

    def _replace_later(self, worker: CrawlProcess, reason: str) -> None:
        """Retire `worker`, then warm up its successor: one after the other, so that the two
        processes' memory never adds up (a check due meanwhile waits for the successor)."""
        log.info("replacing crawl process %d (%s)", worker.pid, reason)

        def replace() -> None:
            worker.retire()
            with self._lock:
                cold = self._cold
            if not cold:
                self.warm_up()

        self._replacing = threading.Thread(target=replace, name=f"replace-crawl-{worker.pid}", daemon=True)
        self._replacing.start()
