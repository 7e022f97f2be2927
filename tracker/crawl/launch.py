"""Running checks: each one in a child process (see spiders/run.py for why)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from storage.db import session_scope, utcnow
from storage.repository import count_events, ensure_source, get_source, max_event_id, stored_id
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
    command = [sys.executable, "-m", "tracker.crawl.worker"]
    if config.path:
        command += ["--config", str(config.path)]
    for name in names:
        command += ["--source", name]
    env = {**os.environ, "RULEWATCH_DATABASE_URL": config.database_url}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    try:
        child = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True, env=env, timeout=CHECK_TIMEOUT)
        outcome = _last_json_line(child.stdout) if child.returncode == 0 else None
        crash = (
            None
            if outcome is not None
            else f"the crawl process failed (exit code {child.returncode}); see the messages above"
        )
    except subprocess.TimeoutExpired:
        outcome, crash = None, f"the crawl did not finish within {CHECK_TIMEOUT}s and was stopped"
    else:
        if child.returncode < 0:  # stopped by a signal (a shutdown), not a fault of the source
            message = f"interrupted by signal {-child.returncode} before it finished"
            return [SourceResult(name, "skipped", message=message) for name in names]

    results = []
    with session_scope(engine) as session:
        for name in names:
            results.append(source_result(session, config, name, (outcome or {}).get(name), crash, before))
            source = get_source(session, name)
            if source is not None and results[-1].status != "skipped":
                report_health(session, config, source)
    return results


def source_result(
    session, config: Config, name: str, data: dict | None, crash: str | None, before: int
) -> SourceResult:
    """What one source's check did; a crawl that never reported is recorded as a failure."""
    source = ensure_source(session, name, config.source(name).kind)
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
        events=count_events(session, stored_id(source), before),
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
