"""Draining the outbox: nothing lost, nothing sent twice.

One drain takes back the claims of dead senders, then sends the immediate
deliveries due, the channels' deliveries (tracker.alerts.channels), the digests
whose period has ended and the admin notices, each claimed, sent and settled the
same way (tracker.alerts.claims); mail goes over one SMTP connection
(tracker.alerts.smtp). An unexpected error in one of them is that one's failure,
retried as a temporary one; the drain goes on with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.engine import Engine

from storage.db import session_scope, utcnow
from storage.models import AdminNotice, Delivery, Event, Subscriber
from storage.repository import require_row, stored_id
from tracker.alerts.channels import ChannelReport, ChannelSender
from tracker.alerts.claims import Claims, OutboxRow, Outcome, SenderProcess, unexpected_failure
from tracker.alerts.digests import claim_due_digest, close_period, digest_subscribers
from tracker.alerts.email import event_message, notice_message
from tracker.alerts.event_summary import summarize_event
from tracker.alerts.links import subscriber_feed_url, subscription_url, unsubscribe_url
from tracker.alerts.outbox import IMMEDIATE, message_id
from tracker.alerts.smtp import Mailer, PermanentFailure, TemporaryFailure
from tracker.settings import Config


@dataclass
class DrainReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)
    channels: ChannelReport = field(default_factory=ChannelReport)

    @property
    def busy(self) -> bool:
        """Whether the drain tried to send anything (what the service logs)."""
        tried = (self.sent, self.retrying, self.failed, self.channels.delivered, self.channels.retrying)
        return any(tried) or bool(self.channels.failed)

    def line(self) -> str:
        text = f"mail: {self.sent} sent ({self.digests} digests), {self.retrying} to retry, {self.failed} failed"
        if self.errors:
            text += f"; last error: {self.errors[-1]}"
        if self.channels.configured:
            text += f"; {self.channels.line()}"
        return text


class Sender:
    def __init__(self, config: Config, engine: Engine, mailer: Mailer | None = None):
        self.config = config
        self.engine = engine
        self.mailer = mailer or Mailer(config.mail)
        self.owner = str(SenderProcess.current())
        self.claims = Claims(engine, self.owner)
        self.channels = ChannelSender(config, engine, self.claims)

    def drain(self, now: datetime | None = None) -> DrainReport:
        """Send everything due at `now` (a controllable clock for tests)."""
        now = now or utcnow()
        report = DrainReport()
        base_url = self.config.web.base_url
        try:
            self.claims.release_stale(now)
            while (
                delivery_id := self.claims.take_next(
                    Delivery,
                    now,
                    lambda d: message_id("event", base_url, d.event_id, d.subscriber_id),
                    Delivery.cadence == IMMEDIATE,
                )
            ) is not None:
                self._send_event(delivery_id, now, report)
            self.channels.drain(now, report.channels)
            for subscriber_id in digest_subscribers(self.engine):
                try:
                    digest = claim_due_digest(self.engine, self.config, self.claims, subscriber_id, now)
                except Exception as exc:  # nothing was claimed (rolled back): tried again at the next drain
                    report.errors.append(unexpected_failure(exc, f"the digest of subscriber {subscriber_id}"))
                    continue
                if digest is not None and self._deliver(digest.message, Delivery, digest.delivery_ids, now, report):
                    report.digests += 1
                    close_period(self.engine, digest)
            while (
                notice_id := self.claims.take_next(
                    AdminNotice, now, lambda n: message_id("notice", base_url, stored_id(n))
                )
            ) is not None:
                self._send_notice(notice_id, now, report)
        finally:
            self.mailer.close()
            self.channels.close()
        return report

    def _send_event(self, delivery_id: int, now: datetime, report: DrainReport) -> None:
        try:
            with session_scope(self.engine) as session:
                delivery = require_row(session, Delivery, delivery_id)
                subscriber = require_row(session, Subscriber, delivery.subscriber_id)
                if not subscriber.active:
                    delivery.status = "dropped"
                    delivery.last_error = "subscriber unsubscribed before it was sent"
                    return
                message = event_message(
                    summarize_event(session, self.config, require_row(session, Event, delivery.event_id)),
                    sender=self.config.mail.sender,
                    recipient=subscriber.email,
                    message_id=delivery.message_id,
                    unsubscribe_url=unsubscribe_url(session, self.config, subscriber),
                    feed_url=subscriber_feed_url(session, self.config, subscriber),
                    manage_url=subscription_url(session, self.config, subscriber),
                    sent_at=now,
                )
        except Exception as exc:
            self._settle(
                Delivery, [delivery_id], Outcome.RETRY, unexpected_failure(exc, f"delivery {delivery_id}"), now, report
            )
            return
        self._deliver(message, Delivery, [delivery_id], now, report)

    def _send_notice(self, notice_id: int, now: datetime, report: DrainReport) -> None:
        try:
            with session_scope(self.engine) as session:
                notice = require_row(session, AdminNotice, notice_id)
                message = notice_message(notice, sender=self.config.mail.sender, sent_at=now)
        except Exception as exc:
            error = unexpected_failure(exc, f"admin notice {notice_id}")
            self._settle(AdminNotice, [notice_id], Outcome.RETRY, error, now, report)
            return
        self._deliver(message, AdminNotice, [notice_id], now, report)

    def _deliver(
        self, message: EmailMessage, table: type[OutboxRow], row_ids: list[int], now: datetime, report: DrainReport
    ) -> bool:
        """Send one message for these claimed outbox rows and settle them; True when it was sent."""
        try:
            with self.claims.renewing(table, row_ids):
                self.mailer.send(message)
            outcome, error = Outcome.SENT, None
        except TemporaryFailure as exc:
            outcome, error = Outcome.RETRY, str(exc)
        except PermanentFailure as exc:
            outcome, error = Outcome.FAILED, str(exc)
        except Exception as exc:
            self.mailer.close()  # in an unknown state: the next message opens a new connection
            outcome, error = Outcome.RETRY, unexpected_failure(exc, f"the message {message['Message-ID']}")
        return self._settle(table, row_ids, outcome, error, now, report)

    def _settle(
        self,
        table: type[OutboxRow],
        row_ids: list[int],
        outcome: Outcome,
        error: str | None,
        now: datetime,
        report: DrainReport,
    ) -> bool:
        outcome = self.claims.settle(table, row_ids, outcome, error, now)
        if error is None:  # sent
            report.sent += 1
            return True
        report.errors.append(error)
        if outcome == Outcome.RETRY:
            report.retrying += 1
        else:
            report.failed += 1
        return False
