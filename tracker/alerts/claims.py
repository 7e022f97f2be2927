"""Claims on outbox rows (deliveries, channel deliveries, admin notices): taken, renewed, taken back, settled one way.

A row is claimed (status `sending`, the claiming process named in `claimed_by`)
and committed before the SMTP conversation (or the channel's POST), and settled (`sent`, back to
`pending` with a later attempt, or `failed`) the moment it ends. While a message
is in flight its owner renews the claim every few seconds. A process killed in
between leaves a claim that the next drain takes back at once when its owner was
a process of this machine that is gone, or once it has gone unrenewed for
CLAIM_LEASE (an owner on another machine); the row is then sent again with the
same Message-ID (a channel's, with the same X-Rulewatch-Event): the one unavoidable
window, and a recognisable one.
Temporary failures are retried with exponential backoff, the first retry within
a minute, then up to an hour apart, for GIVE_UP_AFTER at most. An unexpected error
in sending one row (a bug, a row that cannot be read) is logged and counts as a
temporary failure of that row alone (unexpected_failure): the drain goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import session_scope, utcnow
from storage.models import AdminNotice, ChannelDelivery, Delivery
from storage.repository import stored_id
from tracker.printable import describe_error, printable

OutboxRow = TypeVar("OutboxRow", bound=Delivery | ChannelDelivery | AdminNotice)
OUTBOXES: tuple[type[Delivery | ChannelDelivery | AdminNotice], ...] = (Delivery, ChannelDelivery, AdminNotice)

log = logging.getLogger("rulewatch.alerts")
_PROJECT = str(Path(__file__).resolve().parents[2])  # frames of our own code say where a bug is

CLAIM_LEASE = timedelta(seconds=45)  # a claim unrenewed this long belonged to a process that died
RENEW_EVERY = 10  # seconds between two renewals of the claims in flight
GIVE_UP_AFTER = timedelta(days=2)  # temporary failures for this long become permanent
FIRST_RETRY = 30  # seconds
MAX_RETRY = 3600  # seconds


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # a temporary failure
    FAILED = "failed"  # a permanent failure


def retry_delay(attempts: int) -> timedelta:
    """30 s, 60 s, 2 min, 4 min … capped at an hour."""
    return timedelta(seconds=min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1)))


def unexpected_failure(exc: Exception, what: str, scrub: Callable[[str], str] = str) -> str:
    """Log an unexpected error in sending `what` (one outbox row), with where it was raised; the
    text to keep as the row's error. `scrub` takes secrets out of the error's own words."""
    text = scrub(describe_error(exc))
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(_PROJECT) and "site-packages" not in f.filename] or frames
    where = f" (raised in {Path(ours[-1].filename).name}:{ours[-1].lineno})" if ours else ""
    log.error("%s failed unexpectedly, to be retried: %s%s", printable(what), text, where)
    return f"unexpected error: {text}"


@dataclass(frozen=True)
class SenderProcess:
    """Who holds a claim: a host, a process id on it, and when that process started (ids are reused)."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> SenderProcess:
        return cls(socket.gethostname(), os.getpid(), _process_start(os.getpid()))

    @classmethod
    def parse(cls, owner: str | None) -> SenderProcess | None:
        host, _, rest = (owner or "").rpartition("@")
        pid, _, started = rest.partition(":")
        return cls(host, int(pid), started) if host and pid.isdigit() else None

    def __str__(self) -> str:
        return f"{self.host}@{self.pid}:{self.started}"

    def is_gone(self) -> bool:
        """True only when this is a process of this machine that no longer runs."""
        if self.host != socket.gethostname():
            return False  # another machine's: only its lease can tell
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, under another user
            pass
        return bool(self.started) and _process_start(self.pid) != self.started


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            stat = file.read()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""  # field 22 of stat(5), counted after the name


class Claims:
    """The claims one sending process makes on the outbox."""

    def __init__(self, engine: Engine, owner: str):
        self.engine = engine
        self.owner = owner

    def take(
        self, session: Session, table: type[OutboxRow], row_ids: Sequence[int], now: datetime, message_id: str
    ) -> bool:
        """Claim these pending rows, all or none: the conditional UPDATE makes two senders never share one.

        On False nothing was claimed and the session's work so far is rolled back.
        """
        claimed = session.exec(
            update(table)
            .where(col(table.id).in_(row_ids), col(table.status) == "pending")
            .values(status="sending", claimed_at=now, claimed_by=self.owner, message_id=message_id)
        ).rowcount
        if claimed != len(row_ids):  # another sender is on some of them: leave them all to it
            session.rollback()
            return False
        return True

    def take_next(
        self, table: type[OutboxRow], now: datetime, message_id_for: Callable[[OutboxRow], str], *conditions: Any
    ) -> int | None:
        """Claim the oldest row due at `now` (and meeting `conditions`); None when nothing is left."""
        while True:
            with session_scope(self.engine) as session:
                row = session.exec(
                    select(table)
                    .where(col(table.status) == "pending", col(table.next_attempt_at) <= now, *conditions)
                    .order_by(col(table.id))
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                row_id = stored_id(row)
                taken = self.take(session, table, [row_id], now, message_id_for(row))
            if taken:
                return row_id

    @contextmanager
    def renewing(self, table: type[OutboxRow], row_ids: Sequence[int]) -> Iterator[None]:
        """Keep renewing these claims while their message is in flight, so no one takes them back."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(RENEW_EVERY):
                try:
                    with session_scope(self.engine) as session:
                        session.exec(
                            update(table)
                            .where(
                                col(table.id).in_(row_ids),
                                col(table.status) == "sending",
                                col(table.claimed_by) == self.owner,
                            )
                            .values(claimed_at=utcnow())
                        )
                except Exception:  # the database away for a moment: the lease has slack for it
                    continue

        renewer = threading.Thread(target=renew, name="claim-renewal", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()

    def settle(
        self, table: type[OutboxRow], row_ids: Sequence[int], outcome: Outcome, error: str | None, now: datetime
    ) -> Outcome:
        """Record how the attempt ended and give the claims up: sent, failed, or pending a later retry.

        Returns what was recorded: a temporary failure past GIVE_UP_AFTER is a permanent one."""
        recorded = outcome
        with session_scope(self.engine) as session:
            for row in session.exec(select(table).where(col(table.id).in_(row_ids))):
                row.attempts += 1
                row.last_error = error
                row.claimed_at = row.claimed_by = None
                if outcome == Outcome.SENT:
                    row.status, row.sent_at = "sent", now
                elif outcome == Outcome.FAILED or now - row.created_at >= GIVE_UP_AFTER:
                    row.status, recorded = "failed", Outcome.FAILED
                else:
                    row.status = "pending"
                    row.next_attempt_at = now + retry_delay(row.attempts)
        return recorded

    def release_stale(self, now: datetime) -> None:
        """Take back the claims of processes that died: gone from this machine, or their lease run out."""
        with session_scope(self.engine) as session:
            for table in OUTBOXES:
                claims = session.exec(
                    select(table.claimed_by, table.claimed_at).where(col(table.status) == "sending").distinct()
                ).all()
                for owner, claimed_at in claims:
                    process = SenderProcess.parse(owner)
                    lapsed = claimed_at is None or claimed_at < now - CLAIM_LEASE
                    if lapsed or (process is not None and process.is_gone()):
                        session.exec(
                            update(table)
                            .where(
                                col(table.status) == "sending",
                                _same(col(table.claimed_by), owner),
                                _same(col(table.claimed_at), claimed_at),
                            )
                            .values(status="pending", claimed_by=None, claimed_at=None)
                        )


def _same(column, value):
    """`column = value`, where a NULL value matches NULL."""
    return column.is_(None) if value is None else column == value
