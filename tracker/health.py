"""Source health: failing, stale, recovered, and when a source is next due.

The one meaning of "failing" (is_failing) for the dashboard, the API and the admins'
mail: admins hear once when a source starts failing (or its selector stops matching,
or a server asked for a wait longer than [fetch] retry_after_max, which was held to
it) and once when it recovers. Decided by the stored FailureReason, never by the
words of the error. The one schedule (next_due, held_back_until) for the scheduler,
the cluster dispatcher and every display of a next check."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from storage.db import utcnow
from storage.models import AdminNotice, Source
from storage.repository import stored_id
from tracker.items import FailureReason
from tracker.settings import Config, SourceConfig

FAILING_AFTER = 3  # consecutive failed checks before admins are told
STALE_AFTER = 3  # intervals without a success before a source is called stale
# Failures admins hear of at once: waiting for more checks would change nothing.
FAILING_AT_ONCE = frozenset({FailureReason.SELECTOR_GONE, FailureReason.RETRY_AFTER_HELD})


def retry_after_held(asked: datetime, held_to_seconds: int) -> str:
    """How a capped Retry-After reads in a source's error: what was asked, and what was kept."""
    return (
        f"Retry-After held to {span(held_to_seconds)}: the server asked us to wait until {asked:%Y-%m-%d %H:%M:%S} UTC"
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
    """FAILING_AFTER failed checks in a row; or at once, a selector gone or a Retry-After held to the cap."""
    return source.consecutive_failures >= FAILING_AFTER or failure_reason(source) in FAILING_AT_ONCE


def failure_reason(source: Source) -> FailureReason | None:
    """Why the source's last error happened; None when it has none, or one recorded before reasons were."""
    try:
        return FailureReason(source.last_failure_reason) if source.last_failure_reason else None
    except ValueError:  # written by a newer Rulewatch
        return None


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
            email=admin.email,
            source_id=stored_id(source),
            subject=subject,
            body=body,
            next_attempt_at=now,
            created_at=now,
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


def next_due(source: Source | None, interval: int, retry_after_max: int, now: datetime) -> datetime:
    """When a source is next to be checked: now when it never was (or is overdue); else its
    interval after its last check, backed off after failures, and not before the wait its
    server asked for (waiting_until)."""
    if source is None or source.last_checked_at is None:
        return now
    due = source.last_checked_at + backoff(interval, source.consecutive_failures)
    waiting = waiting_until(source, retry_after_max)
    return max(now, due, waiting or due)


def held_back_until(source: Source | None, interval: int, retry_after_max: int, now: datetime) -> datetime | None:
    """When a source whose interval has come round must still wait (backoff, Retry-After): until when.
    None when it may be checked now. A scheduler that polls every interval asks this."""
    if source is None or source.last_checked_at is None:
        return None
    due = next_due(source, interval, retry_after_max, now)
    return due if due > now and due > source.last_checked_at + timedelta(seconds=interval) else None
