"""Draining the outbox over SMTP: nothing lost, nothing sent twice.

Each delivery is claimed (status `sending`, with the claiming process named in
`claimed_by`) and committed before the SMTP conversation, and marked `sent` the
moment the server accepts it. While a message is in flight its owner renews the
claim every few seconds. A process killed in between leaves a claim that the
next drain takes back at once when its owner was a process of this machine that
is gone, or once it has gone unrenewed for CLAIM_LEASE (an owner on another
machine), and sends it again with the same Message-ID: the one unavoidable
window, and a recognisable one.
Temporary failures (4xx, connection trouble) are retried with exponential
backoff, the first retry within a minute, then up to an hour apart; permanent
ones (5xx) are recorded and not retried.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import session_scope, utcnow
from storage.models import AdminNotice, Delivery, Event, Subscriber
from tracker.alerts.email import digest_message, event_message, notice_message
from tracker.alerts.event_summary import summarize_event
from tracker.alerts.outbox import DIGEST, IMMEDIATE, message_id
from tracker.alerts.tokens import (
    FEED,
    UNSUBSCRIBE,
    make_manage_token,
    make_token,
    signing_key,
)
from tracker.settings import Config, MailConfig

CLAIM_LEASE = timedelta(seconds=45)  # a claim unrenewed this long belonged to a process that died
RENEW_EVERY = 10  # seconds between two renewals of the claims in flight
GIVE_UP_AFTER = timedelta(days=2)  # temporary failures for this long become permanent
FIRST_RETRY = 30  # seconds
MAX_RETRY = 3600  # seconds
DIGEST_PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


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


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


def retry_delay(attempts: int) -> timedelta:
    """30 s, 60 s, 2 min, 4 min … capped at an hour."""
    return timedelta(seconds=min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1)))


class Mailer:
    """One SMTP connection, opened on first use and reused for the whole drain."""

    def __init__(self, mail: MailConfig, timeout: float = 30):
        self.mail = mail
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def send(self, message) -> None:
        try:
            smtp = self._connection()
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
            raise (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(
                f"recipient refused: {detail}"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            self.close()  # a configuration problem: keep the message until it is fixed
            raise TemporaryFailure(f"SMTP login failed ({exc.smtp_code}); check [mail] username/password") from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            failure = PermanentFailure if exc.smtp_code >= 500 else TemporaryFailure
            raise failure(f"SMTP {exc.smtp_code} {text}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(
                f"cannot reach the SMTP server {self.mail.smtp_host}:{self.mail.smtp_port}: {exc or exc.__class__.__name__}"
            ) from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            mail = self.mail
            if mail.ssl:
                smtp = smtplib.SMTP_SSL(
                    mail.smtp_host, mail.smtp_port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=self.timeout)
                if mail.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if mail.username:
                smtp.login(mail.username, mail.password)
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None


@dataclass
class DrainReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"mail: {self.sent} sent ({self.digests} digests), {self.retrying} to retry, {self.failed} failed"
        if self.errors:
            text += f"; last error: {self.errors[-1]}"
        return text


class Sender:
    def __init__(self, config: Config, engine: Engine, mailer: Mailer | None = None):
        self.config = config
        self.engine = engine
        self.mailer = mailer or Mailer(config.mail)
        self.owner = str(SenderProcess.current())

    def drain(self, now: datetime | None = None) -> DrainReport:
        """Send everything due at `now` (a controllable clock for tests)."""
        now = now or utcnow()
        report = DrainReport()
        try:
            self._release_stale_claims(now)
            while (delivery_id := self._claim_next(now)) is not None:
                self._send_one(delivery_id, now, report)
            for subscriber_id in self._digest_subscribers():
                self._send_digest(subscriber_id, now, report)
            while (notice_id := self._claim_notice(now)) is not None:
                self._send_notice(notice_id, now, report)
        finally:
            self.mailer.close()
        return report

    def _release_stale_claims(self, now: datetime) -> None:
        """Take back the claims of processes that died: gone from this machine, or their lease run out."""
        with session_scope(self.engine) as session:
            for model in (Delivery, AdminNotice):
                claims = session.exec(
                    select(model.claimed_by, model.claimed_at).where(model.status == "sending").distinct()
                ).all()
                for owner, claimed_at in claims:
                    process = SenderProcess.parse(owner)
                    lapsed = claimed_at is None or claimed_at < now - CLAIM_LEASE
                    if lapsed or (process is not None and process.is_gone()):
                        session.exec(
                            update(model)
                            .where(
                                model.status == "sending",
                                _same(model.claimed_by, owner),
                                _same(model.claimed_at, claimed_at),
                            )
                            .values(status="pending", claimed_by=None, claimed_at=None)
                        )

    @contextmanager
    def _renewing(self, model, row_ids: list[int]) -> Iterator[None]:
        """Keep renewing these claims while their message is in flight, so no one takes them back."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(RENEW_EVERY):
                try:
                    with session_scope(self.engine) as session:
                        session.exec(
                            update(model)
                            .where(
                                col(model.id).in_(row_ids), model.status == "sending", model.claimed_by == self.owner
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

    def _claim_next(self, now: datetime) -> int | None:
        """Claim the oldest due delivery; the conditional UPDATE makes two senders never share one."""
        while True:
            with session_scope(self.engine) as session:
                query = (
                    select(Delivery.id, Delivery.event_id, Delivery.subscriber_id)
                    .where(Delivery.status == "pending", Delivery.cadence == IMMEDIATE, Delivery.next_attempt_at <= now)
                    .order_by(Delivery.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                row = session.exec(query).first()
                if row is None:
                    return None
                delivery_id, event_id, subscriber_id = row
                claimed = session.exec(
                    update(Delivery)
                    .where(Delivery.id == delivery_id, Delivery.status == "pending")
                    .values(
                        status="sending",
                        claimed_at=now,
                        claimed_by=self.owner,
                        message_id=message_id("event", self.config.web.base_url, event_id, subscriber_id),
                    )
                ).rowcount
            if claimed:
                return delivery_id

    def _send_one(self, delivery_id: int, now: datetime, report: DrainReport) -> None:
        with session_scope(self.engine) as session:
            delivery = session.get(Delivery, delivery_id)
            subscriber = session.get(Subscriber, delivery.subscriber_id)
            if not subscriber.active:
                delivery.status = "dropped"
                delivery.last_error = "subscriber unsubscribed before it was sent"
                return
            message = event_message(
                summarize_event(session, self.config, session.get(Event, delivery.event_id)),
                sender=self.config.mail.sender,
                recipient=subscriber.email,
                message_id=delivery.message_id,
                unsubscribe_url=self._unsubscribe_url(session, subscriber),
                feed_url=subscriber_feed_url(session, self.config, subscriber),
                manage_url=subscription_url(session, self.config, subscriber),
                sent_at=now,
            )
        self._deliver(message, Delivery, [delivery_id], now, report)

    def _deliver(self, message, model, row_ids: list[int], now: datetime, report: DrainReport) -> bool:
        """Send one message for these outbox rows (Delivery or AdminNotice) and record the outcome."""
        try:
            with self._renewing(model, row_ids):
                self.mailer.send(message)
            outcome, error = "sent", None
        except TemporaryFailure as exc:
            outcome, error = "retry", str(exc)
        except PermanentFailure as exc:
            outcome, error = "failed", str(exc)
        with session_scope(self.engine) as session:
            for delivery in session.exec(select(model).where(col(model.id).in_(row_ids))):
                delivery.attempts += 1
                delivery.last_error = error
                delivery.claimed_at = delivery.claimed_by = None
                if outcome == "sent":
                    delivery.status, delivery.sent_at = "sent", now
                elif outcome == "failed" or now - delivery.created_at >= GIVE_UP_AFTER:
                    delivery.status = "failed"
                else:
                    delivery.status = "pending"
                    delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        if outcome == "sent":
            report.sent += 1
        else:
            report.errors.append(error)
            if outcome == "retry":
                report.retrying += 1
            else:
                report.failed += 1
        return outcome == "sent"

    def _digest_subscribers(self) -> list[int]:
        with session_scope(self.engine) as session:
            return list(
                session.exec(
                    select(Delivery.subscriber_id)
                    .where(Delivery.cadence == DIGEST, col(Delivery.status).in_(["pending", "sending"]))
                    .distinct()
                )
            )

    def _send_digest(self, subscriber_id: int, now: datetime, report: DrainReport) -> None:
        """Send a subscriber's digest once their period has ended, with all its events."""
        with session_scope(self.engine) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            period = DIGEST_PERIODS.get(subscriber.digest)
            pending = list(
                session.exec(
                    select(Delivery)
                    .where(
                        Delivery.subscriber_id == subscriber_id,
                        Delivery.cadence == DIGEST,
                        col(Delivery.status).in_(["pending"]),
                        Delivery.next_attempt_at <= now,
                    )
                    .order_by(Delivery.id)
                    .with_for_update(skip_locked=True)
                )
            )
            if not pending:
                return
            if not subscriber.active or period is None:  # unsubscribed, or switched to immediate mail
                for delivery in pending:
                    delivery.cadence = IMMEDIATE if subscriber.active else delivery.cadence
                    delivery.status = "pending" if subscriber.active else "dropped"
                return
            started = subscriber.last_digest_at or subscriber.created_at
            if now < started + period:
                return
            periods = (now - started) // period
            period_end = started + period * periods
            digest_id = message_id(
                "digest", self.config.web.base_url, subscriber.id, period_end.strftime("%Y%m%dT%H%M%S")
            )
            delivery_ids = [d.id for d in pending]
            claimed = session.exec(
                update(Delivery)
                .where(col(Delivery.id).in_(delivery_ids), Delivery.status == "pending")
                .values(status="sending", claimed_at=now, claimed_by=self.owner, message_id=digest_id)
            ).rowcount
            if claimed != len(delivery_ids):  # another sender is on it: leave it to them
                session.rollback()
                return
            summaries = [summarize_event(session, self.config, session.get(Event, d.event_id)) for d in pending]
            message = digest_message(
                summaries,
                cadence=subscriber.digest,
                sender=self.config.mail.sender,
                recipient=subscriber.email,
                message_id=digest_id,
                unsubscribe_url=self._unsubscribe_url(session, subscriber),
                feed_url=subscriber_feed_url(session, self.config, subscriber),
                manage_url=subscription_url(session, self.config, subscriber),
                sent_at=now,
            )
        if self._deliver(message, Delivery, delivery_ids, now, report):
            report.digests += 1
            with session_scope(self.engine) as session:
                session.get(Subscriber, subscriber_id).last_digest_at = period_end

    def _claim_notice(self, now: datetime) -> int | None:
        with session_scope(self.engine) as session:
            due = session.exec(
                select(AdminNotice.id)
                .where(AdminNotice.status == "pending", AdminNotice.next_attempt_at <= now)
                .order_by(AdminNotice.id)
            ).all()
            for notice_id in due:
                claimed = session.exec(
                    update(AdminNotice)
                    .where(AdminNotice.id == notice_id, AdminNotice.status == "pending")
                    .values(
                        status="sending",
                        claimed_at=now,
                        claimed_by=self.owner,
                        message_id=message_id("notice", self.config.web.base_url, notice_id),
                    )
                ).rowcount
                if claimed:
                    return notice_id
        return None

    def _send_notice(self, notice_id: int, now: datetime, report: DrainReport) -> None:
        with session_scope(self.engine) as session:
            notice = session.get(AdminNotice, notice_id)
            message = notice_message(notice, sender=self.config.mail.sender, sent_at=now)
        self._deliver(message, AdminNotice, [notice_id], now, report)

    def _unsubscribe_url(self, session: Session, subscriber: Subscriber) -> str:
        token = make_token(signing_key(session, self.config.web.secret_key), subscriber, UNSUBSCRIBE)
        return f"{self.config.web.base_url}/unsubscribe/{token}"


def _same(column, value):
    """`column = value`, where a NULL value matches NULL."""
    return column.is_(None) if value is None else column == value


def subscription_url(session: Session, config: Config, subscriber: Subscriber) -> str:
    """The subscriber's own page to change what they follow (a signed link that expires)."""
    token = make_manage_token(signing_key(session, config.web.secret_key), subscriber)
    return f"{config.web.base_url}/subscription/{token}"


def subscriber_feed_url(session: Session, config: Config, subscriber: Subscriber) -> str:
    """The subscriber's own Atom feed, at a secret (signed) URL."""
    token = make_token(signing_key(session, config.web.secret_key), subscriber, FEED)
    return f"{config.web.base_url}/feeds/subscribers/{token}.atom"
