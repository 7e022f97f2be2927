"""Crawls on Scrapyd nodes, when the config has a [cluster] section.

The active scheduler calls `Dispatcher.tick` every few seconds. A tick
1. asks every node for its jobs (listjobs.json),
2. settles the runs in flight: a run whose job wrote its results is reviewed and
   done; a job that ended without results is recorded as a failed check; a run on
   a node unreachable for `node_timeout`, or unknown to its node, is lost and its
   sources go to another node;
3. sends the sources now due, in batches of `batch_size`, to the least busy node.

Every run is a `check_run` row, written before its job is scheduled, so the
database (PostgreSQL, shared by all machines) is the one record of what is in
flight: a standby scheduler that takes over carries on from it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from storage.db import session_scope, utcnow
from storage.models import NodeJob, Source
from storage.repository import get_source, max_event_id, require_row, stored_id
from tracker.crawl.launch import CHECK_TIMEOUT, SourceResult, source_result
from tracker.health import next_due, report_health
from tracker.settings import Config

log = logging.getLogger("rulewatch.cluster")
logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO; ticks make many
SPIDER = "check"  # spiders/check.py
MAX_ATTEMPTS = 3  # a batch lost this many times is recorded as failed, to be retried at its next interval
JOB_STATES = ("pending", "running", "finished")


class NodeError(Exception):
    """A Scrapyd node could not be reached or refused a request."""


class ScrapydNode:
    """Scrapyd's JSON API on one node: https://scrapyd.readthedocs.io/en/latest/api.html"""

    def __init__(self, url: str, project: str, timeout: float = 10.0):
        """`url` may carry Scrapyd's basic-auth credentials (http://user:password@host:6800);
        `self.url`, used in messages and records, never does."""
        parsed = httpx.URL(url)
        auth = (parsed.username, parsed.password) if parsed.username else None
        self.url = str(parsed.copy_with(userinfo=b"")).rstrip("/")
        self.project = project
        self.client = httpx.Client(base_url=self.url, auth=auth, timeout=timeout)

    def schedule(self, job: str, sources: list[str], config_path: str, run_id: int) -> None:
        self._call(
            "POST",
            "/schedule.json",
            data={
                "project": self.project,
                "spider": SPIDER,
                "jobid": job,
                "sources": ",".join(sources),
                "config": config_path,
                "run": str(run_id),
            },
        )

    def jobs(self) -> dict[str, str]:
        """{job id: "pending" | "running" | "finished"} for this project."""
        reply = self._call("GET", "/listjobs.json", params={"project": self.project})
        return {job["id"]: state for state in JOB_STATES for job in reply.get(state, [])}

    def cancel(self, job: str) -> None:
        self._call("POST", "/cancel.json", data={"project": self.project, "job": job})

    def log_url(self, job: str) -> str:
        return f"{self.url}/logs/{self.project}/{SPIDER}/{job}.log"

    def _call(self, method: str, path: str, **options) -> dict:
        try:
            response = self.client.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise NodeError(f"Scrapyd at {self.url} is unreachable ({exc.__class__.__name__}: {exc})") from None
        if response.status_code == 401:
            raise NodeError(
                f"Scrapyd at {self.url} wants credentials (HTTP 401): write the node as "
                "http://USER:PASSWORD@host:port in [cluster] nodes, as set by its SCRAPYD_USERNAME "
                "and SCRAPYD_PASSWORD"
            )
        try:
            reply = response.json()
        except ValueError:
            raise NodeError(
                f"Scrapyd at {self.url}{path} answered HTTP {response.status_code} without JSON; is it a Scrapyd node?"
            ) from None
        if response.status_code != 200 or not isinstance(reply, dict) or reply.get("status") != "ok":
            message = reply.get("message") if isinstance(reply, dict) else reply
            raise NodeError(f"Scrapyd at {self.url}{path} refused: {message} (HTTP {response.status_code})")
        return reply


@dataclass
class NodeView:
    """What this scheduler knows of one node in this tick."""

    node: ScrapydNode
    jobs: dict[str, str] | None = None  # None: unreachable in this tick
    unreachable_since: datetime | None = None
    busy: int = 0  # runs in flight on it


def log_result(result: SourceResult) -> None:
    log.info("%s", result.line())


class Dispatcher:
    """The active scheduler's side of a cluster; `clock` and `report` are replaceable for tests."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        clock: Callable[[], datetime] = utcnow,
        report: Callable[[SourceResult], None] = log_result,
    ):
        if config.cluster is None:
            raise ValueError("the configuration has no [cluster] section")
        self.config, self.engine, self.clock, self.report = config, engine, clock, report
        self.cluster = config.cluster
        nodes = [ScrapydNode(url, self.cluster.project) for url in self.cluster.nodes]
        self.views = {node.url: NodeView(node) for node in nodes}
        self._warned_no_node = False

    def tick(self) -> int:
        """One round; returns how many runs ended, so the caller can send their alerts."""
        self._poll_nodes()
        ended = self._settle_runs()
        due = self.due_sources()
        if due:
            self._dispatch(due)
        return ended

    # --- nodes ----------------------------------------------------------------------------

    def _poll_nodes(self) -> None:
        now = self.clock()
        for view in self.views.values():
            try:
                view.jobs = view.node.jobs()
            except NodeError as exc:
                if view.unreachable_since is None:
                    log.warning(
                        "%s; its runs go to another node if it is still away after %ds", exc, self.cluster.node_timeout
                    )
                    view.unreachable_since = now
                view.jobs = None
            else:
                if view.unreachable_since is not None:
                    log.info("Scrapyd at %s is reachable again", view.node.url)
                view.unreachable_since = None

    # --- runs in flight -------------------------------------------------------------------

    def _settle_runs(self) -> int:
        """Settle each run in flight; returns how many ended."""
        for view in self.views.values():
            view.busy = 0
        now = self.clock()
        return sum(self._settle(run, now) for run in self._runs_in_flight())

    def _settle(self, run: NodeJob, now: datetime) -> bool:
        """Finish or lose `run` if it ended; False (and its node counted busy) if it is still running."""
        view = self.views.get(run.node)
        if run.finished_at is not None:
            self._finish(run, run.results or {}, crash=None)
        elif view is None:
            self._lose(run, f"its node {run.node} is no longer in [cluster] nodes")
        elif view.jobs is not None and view.jobs.get(run.job) == "finished":
            self._finish(
                run,
                {},
                crash=f"the crawl job on {run.node} ended without a result; see its log: {view.node.log_url(run.job)}",
            )
        elif view.jobs is not None and run.job not in view.jobs:
            self._lose(run, f"{run.node} no longer knows job {run.job} (was the node restarted?)")
        elif (
            view.jobs is None
            and view.unreachable_since is not None
            and now - view.unreachable_since >= timedelta(seconds=self.cluster.node_timeout)
        ):
            self._lose(run, f"{run.node} has been unreachable for {self.cluster.node_timeout}s or more")
        elif now - run.dispatched_at > timedelta(seconds=CHECK_TIMEOUT):
            try:
                view.node.cancel(run.job)
            except NodeError as exc:
                log.warning("could not cancel job %s: %s", run.job, exc)
            self._finish(run, {}, crash=f"the crawl did not finish within {CHECK_TIMEOUT}s and was stopped")
        else:
            view.busy += 1
            return False
        return True

    def _runs_in_flight(self) -> list[NodeJob]:
        with session_scope(self.engine) as session:
            runs = session.exec(select(NodeJob).where(NodeJob.status == "running").order_by(col(NodeJob.id))).all()
            session.expunge_all()
            return list(runs)

    def _finish(self, run: NodeJob, results: dict, crash: str | None) -> None:
        """Review each source of a run that ended, then mark the run done."""
        with session_scope(self.engine) as session:
            for name in run.sources:
                if not self._configured(name):
                    continue
                result = source_result(session, self.config, name, results.get(name), crash, run.events_after)
                source = get_source(session, name)
                if source is not None and result.status != "skipped":
                    report_health(session, self.config, source)
                self.report(result)
            row = require_row(session, NodeJob, stored_id(run))
            row.status = "done"
            row.error = crash

    def _lose(self, run: NodeJob, reason: str) -> None:
        names = [name for name in run.sources if self._configured(name)]
        with session_scope(self.engine) as session:
            row = require_row(session, NodeJob, stored_id(run))
            row.status, row.error = "lost", reason
        if run.attempt >= MAX_ATTEMPTS:
            log.warning(
                "run %d lost (%s); tried %d times, recording its %d source(s) as failed",
                run.id,
                reason,
                run.attempt,
                len(names),
            )
            self._finish(run, {}, crash=f"lost {run.attempt} times; last: {reason}")
            return
        log.warning("run %d lost (%s); giving its %d source(s) to another node", run.id, reason, len(names))
        self._dispatch(names, attempt=run.attempt + 1)

    def _configured(self, name: str) -> bool:
        return any(source.name == name for source in self.config.sources)

    # --- what is due ------------------------------------------------------------------------

    def due_sources(self) -> list[str]:
        """Sources that are due (tracker.health.next_due) and not in flight."""
        now = self.clock()
        in_flight = {name for run in self._runs_in_flight() for name in run.sources}
        with session_scope(self.engine) as session:  # one query, not one per source: this runs every tick
            rows = {row.name: row for row in session.exec(select(Source))}
        due = []
        for source in self.config.sources:
            if source.name in in_flight:
                continue
            if next_due(rows.get(source.name), source.interval, self.config.fetch.retry_after_max, now) <= now:
                due.append(source.name)
        return due

    def _dispatch(self, names: list[str], attempt: int = 1) -> None:
        size = self.cluster.batch_size
        for start in range(0, len(names), size):
            if not self._send(names[start : start + size], attempt):
                return

    def _send(self, batch: list[str], attempt: int) -> bool:
        """Schedule one batch on the least busy reachable node; False when no node took it."""
        candidates = sorted((v for v in self.views.values() if v.jobs is not None), key=lambda v: v.busy)
        for view in candidates:
            run_id, job = self._new_run(batch, view.node.url, attempt)
            try:
                view.node.schedule(job, batch, self.cluster.node_config, run_id)
            except NodeError as exc:
                log.warning("%s; trying another node", exc)
                self._discard_run(run_id, str(exc))
                view.jobs, view.unreachable_since = None, view.unreachable_since or self.clock()
                continue
            view.busy += 1
            self._warned_no_node = False
            return True
        if not self._warned_no_node:
            log.warning(
                "no Scrapyd node is reachable (%s); due sources wait until one is; "
                "check that `rulewatch node` runs on them",
                ", ".join(self.views),
            )
            self._warned_no_node = True
        return False

    def _new_run(self, batch: list[str], node: str, attempt: int) -> tuple[int, str]:
        """The run's row, committed before its job is scheduled so that no job is ever untracked."""
        with session_scope(self.engine) as session:
            run = NodeJob(
                sources=list(batch),
                node=node,
                attempt=attempt,
                events_after=max_event_id(session),
                dispatched_at=self.clock(),
            )
            session.add(run)
            session.flush()
            # Unique beyond this database: a node keeps finished jobs, perhaps another cluster's.
            run.job = f"rulewatch-{run.id}-{uuid.uuid4().hex[:12]}"
            return stored_id(run), run.job

    def _discard_run(self, run_id: int, reason: str) -> None:
        with session_scope(self.engine) as session:
            run = require_row(session, NodeJob, run_id)
            run.status, run.error = "lost", f"never started: {reason}"
