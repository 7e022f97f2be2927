"""Running checks in child crawl processes: here one process per check (`rulewatch check`);
the service reuses warm ones across its polls (tracker.crawl.warm). Both record results
with `record_check`. Why a child process at all: tracker.crawl.worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from storage.db import session_scope, utcnow
from storage.models import Source
from storage.repository import count_events, ensure_source, max_event_id, stored_id
from tracker.crawl.rows import events_since, source_rows
from tracker.health import report_health
from tracker.items import FailureReason
from tracker.settings import Config

CHECK_TIMEOUT = 3600  # seconds; a check that runs longer is ended and recorded as failed
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SourceResult:
    name: str
    status: str  # ok | failed | skipped
    fetched: int = 0
    unchanged: int = 0
    new_versions: int = 0
    failures: list[str] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    message: str = ""

    def line(self) -> str:
        if self.status == "skipped":
            return f"{self.name}: skipped, {self.message}"
        parts = [f"{self.fetched} fetched", f"{self.unchanged} not modified", f"{self.new_versions} new versions"]
        if self.events:
            parts.append("events: " + ", ".join(f"{n} {label}" for label, n in sorted(self.events.items())))
        head = f"{self.name}: {'ok' if self.status == 'ok' else 'FAILED'}, " + ", ".join(parts)
        if self.failures:
            head += f"\n  {len(self.failures)} failure(s); first: {self.failures[0]}"
        return head


def run_check(config: Config, engine: Engine, names: list[str]) -> list[SourceResult]:
    """One pass over the named sources; failures are recorded, never raised."""
    with session_scope(engine) as session:
        before = max_event_id(session)
    command = worker_command(config, "tracker.crawl.worker")
    for name in names:
        command += ["--source", name]
    try:
        child = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            env=worker_environment(config),
            timeout=CHECK_TIMEOUT,
        )
        outcome = _last_json_line(child.stdout) if child.returncode == 0 else None
        crash = None if outcome is not None else exit_failure(child.returncode)
    except subprocess.TimeoutExpired:
        outcome, crash = None, timeout_failure(CHECK_TIMEOUT)
    else:
        if child.returncode < 0:  # stopped by a signal (a shutdown), not a fault of the source
            return interrupted(names, -child.returncode)
    return record_check(config, engine, names, outcome, crash, before)


def worker_command(config: Config, module: str) -> list[str]:
    """How to start a crawl process (`module`) that reads the same config file as this one."""
    command = [sys.executable, "-m", module]
    if config.path:
        command += ["--config", str(config.path)]
    return command


def worker_environment(config: Config) -> dict[str, str]:
    env = {**os.environ, "RULEWATCH_DATABASE_URL": config.database_url}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return env


def exit_failure(returncode: int) -> str:
    return f"the crawl process failed (exit code {returncode}); see the messages above"


def timeout_failure(seconds: float) -> str:
    return f"the crawl did not finish within {seconds:g}s and was stopped"


def interrupted(names: list[str], signum: int) -> list[SourceResult]:
    """The results of a check that a shutdown signal ended: nothing counted against its sources."""
    message = f"interrupted by signal {signum} before it finished"
    return [SourceResult(name, "skipped", message=message) for name in names]


def record_check(
    config: Config, engine: Engine, names: list[str], outcome: dict | None, crash: str | None, before: int
) -> list[SourceResult]:
    """Record what a finished crawl process reported (`outcome`, by source name, or None with
    the `crash` that explains why not) on each source, with its health."""
    results = []
    with session_scope(engine) as session:  # a few statements for all the sources, however many
        rows = source_rows(session, config, names)
        events = events_since(session, before)
        for name in names:
            source = rows[name]
            result = source_result(
                session,
                config,
                name,
                (outcome or {}).get(name),
                crash,
                before,
                source,
                events.get(stored_id(source), {}),
            )
            if result.status != "skipped":
                report_health(session, config, source)
            results.append(result)
    return results


def source_result(
    session,
    config: Config,
    name: str,
    data: dict | None,
    crash: str | None,
    before: int,
    source: Source | None = None,
    events: dict[str, int] | None = None,
) -> SourceResult:
    """What one source's check did; a crawl that never reported is recorded as a failure.
    `source`: its row and `events`: its events since `before`, when the caller read them for many."""
    source = source or ensure_source(session, name, config.source(name).kind)
    if data is None:
        source.last_checked_at = source.last_failure_at = utcnow()
        source.consecutive_failures += 1
        source.last_error = crash or "no result from the crawl"
        source.last_failure_reason = FailureReason.CRAWL_FAILED
        return SourceResult(name, "failed", failures=[source.last_error])
    if "skipped" in data:
        return SourceResult(name, "skipped", message=data["skipped"])
    succeeded = data["fetched"] + data["unchanged"] + data.get("listings", 0) > 0
    return SourceResult(
        name,
        "ok" if succeeded else "failed",
        fetched=data["fetched"],
        unchanged=data["unchanged"],
        new_versions=data["new_versions"],
        failures=data["failures"],
        events=count_events(session, stored_id(source), before) if events is None else dict(events),
    )


def _last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
