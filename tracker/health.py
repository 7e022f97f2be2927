"""Source health: failing, stale, recovered; admins hear once when a source starts
failing (or its selector stops matching, or a server asked for a wait longer than
[fetch] retry_after_max, which was held to it) and once when it recovers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from storage.db import utcnow
from storage.models import AdminNotice, Source
from tracker.settings import Config, SourceConfig

FAILING_AFTER = 3  # consecutive failed checks before admins are told
STALE_AFTER = 3  # intervals without a success before a source is called stale
SELECTOR_GONE = "matched nothing"  # in the error of a page whose CSS selector no longer matches
RETRY_AFTER_HELD = "Retry-After held to"  # in the error of a source whose Retry-After was capped (tracker.ingest)


def retry_after_held(asked: datetime, held_to_seconds: int) -> str:
    """How a capped Retry-After reads in a source's error: what was asked, and what was kept."""
    return (
        f"{RETRY_AFTER_HELD} {span(held_to_seconds)}: the server asked us to wait until {asked:%Y-%m-%d %H:%M:%S} UTC"
    )


def span(seconds: int) -> str:
    """86400 -> '24h', 5400 -> '90m', 45 -> '45s'."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def waiting_until(source: Source, retry_after_max: int) -> datetime | None:
    """Until when a source waits for its server's Retry-After: held to [fetch] retry_after_max after
    its last check, also for a wait stored before the cap (once up to year 9999)."""
    if source.retry_after is None:
        return None
    if source.last_checked_at is None:
        return source.retry_after
    return min(source.retry_after, source.last_checked_at + timedelta(seconds=retry_after_max))


def is_stale(source: Source, config: SourceConfig, now: datetime | None = None) -> bool:
    now = now or utcnow()
    since = source.last_success_at or source.baseline_at
    if since is None:
        return source.last_checked_at is not None  # checked, never succeeded
    return now - since > timedelta(seconds=config.interval * STALE_AFTER)


def is_failing(source: Source) -> bool:
    """Failing checks in a row; or at once, a selector gone or a Retry-After held to the cap."""
    error = source.last_error or ""
    return source.consecutive_failures >= FAILING_AFTER or SELECTOR_GONE in error or RETRY_AFTER_HELD in error


def report_health(session: Session, config: Config, source: Source) -> list[AdminNotice]:
    """After a check: tell admins of a new failure or a recovery, once each."""
    failing = is_failing(source)
    if failing == source.health_alerted:
        return []
    source.health_alerted = failing
    if failing:
        subject = f"[Rulewatch] Source failing: {source.name}"
        body = (
            f"The source {source.name!r} has failed {source.consecutive_failures} consecutive check(s).\n\n"
            f"Last error: {source.last_error}\n\n"
            f"Its documents are not being watched until it recovers. Check the URL, selector or host, "
            f"then run `rulewatch check --source {source.name}`.\nDashboard: {config.web.base_url}/"
        )
    else:
        subject = f"[Rulewatch] Source recovered: {source.name}"
        body = f"The source {source.name!r} answered again at {source.last_success_at}. Watching resumes.\n"
    now = utcnow()
    notices = [
        AdminNotice(
            email=admin.email, source_id=source.id, subject=subject, body=body, next_attempt_at=now, created_at=now
        )
        for admin in config.admins
    ]
    session.add_all(notices)
    return notices


# --- when a source is next due: its interval, backed off after failures ------------------

MAX_BACKOFF = timedelta(hours=6)


def backoff(interval: int, failures: int) -> timedelta:
    """The wait after a check: the interval, doubled for each failure after the first."""
    base = timedelta(seconds=interval)
    if failures <= 1:
        return base
    return min(base * 2 ** (failures - 1), max(base, MAX_BACKOFF))


def next_due(last_checked: datetime | None, interval: int, failures: int, now: datetime) -> datetime:
    if last_checked is None:
        return now
    return max(now, last_checked + backoff(interval, failures))
