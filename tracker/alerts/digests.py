"""Digests: a subscriber's gathered events, sent as one message once their daily or weekly period has ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from storage.db import session_scope
from storage.models import Delivery, Event, Subscriber
from storage.repository import require_row, stored_id
from tracker.alerts.claims import Claims
from tracker.alerts.email import digest_message
from tracker.alerts.event_summary import summarize_event
from tracker.alerts.links import subscriber_feed_url, subscription_url, unsubscribe_url
from tracker.alerts.outbox import DIGEST, IMMEDIATE, message_id
from tracker.settings import Config

DIGEST_PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True)
class DueDigest:
    """A digest claimed for sending: its message and the deliveries it carries."""

    subscriber_id: int
    delivery_ids: list[int]
    period_end: datetime
    message: EmailMessage


def digest_subscribers(engine: Engine) -> list[int]:
    """The subscribers with digest deliveries not yet sent."""
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Delivery.subscriber_id)
                .where(Delivery.cadence == DIGEST, col(Delivery.status).in_(["pending", "sending"]))
                .distinct()
            )
        )


def claim_due_digest(
    engine: Engine, config: Config, claims: Claims, subscriber_id: int, now: datetime
) -> DueDigest | None:
    """Claim a subscriber's digest when their period has ended, with all its events; None when nothing is due.

    A subscriber who unsubscribed has their gathered deliveries dropped; one who
    switched to immediate mail has them turned into immediate deliveries.
    """
    with session_scope(engine) as session:
        subscriber = require_row(session, Subscriber, subscriber_id)
        period = DIGEST_PERIODS.get(subscriber.digest)
        pending = list(
            session.exec(
                select(Delivery)
                .where(
                    col(Delivery.subscriber_id) == subscriber_id,
                    col(Delivery.cadence) == DIGEST,
                    col(Delivery.status).in_(["pending"]),
                    col(Delivery.next_attempt_at) <= now,
                )
                .order_by(col(Delivery.id))
                .with_for_update(skip_locked=True)
            )
        )
        if not pending:
            return None
        if not subscriber.active or period is None:
            for delivery in pending:
                delivery.cadence = IMMEDIATE if subscriber.active else delivery.cadence
                delivery.status = "pending" if subscriber.active else "dropped"
            return None
        started = subscriber.last_digest_at or subscriber.created_at
        if now < started + period:
            return None
        period_end = started + period * ((now - started) // period)
        digest_id = message_id("digest", config.web.base_url, subscriber_id, period_end.strftime("%Y%m%dT%H%M%S"))
        delivery_ids = [stored_id(delivery) for delivery in pending]
        if not claims.take(session, Delivery, delivery_ids, now, digest_id):
            return None
        summaries = [summarize_event(session, config, require_row(session, Event, d.event_id)) for d in pending]
        message = digest_message(
            summaries,
            cadence=subscriber.digest,
            sender=config.mail.sender,
            recipient=subscriber.email,
            message_id=digest_id,
            unsubscribe_url=unsubscribe_url(session, config, subscriber),
            feed_url=subscriber_feed_url(session, config, subscriber),
            manage_url=subscription_url(session, config, subscriber),
            sent_at=now,
        )
        return DueDigest(subscriber_id, delivery_ids, period_end, message)


def close_period(engine: Engine, digest: DueDigest) -> None:
    """Mark the digest's period as sent: the next one starts where it ended."""
    with session_scope(engine) as session:
        require_row(session, Subscriber, digest.subscriber_id).last_digest_at = digest.period_end
