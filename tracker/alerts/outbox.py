"""The outbox: who should hear about an event, written in the event's own transaction.

An event never gets lost between detection and sending: its delivery rows (one per
subscriber, and one per channel in `channel_delivery`) commit with it or not at all.
Baseline events and cosmetic changes are never alerted; an expectation being met is
always sent at once, digest or not. Channels have no digests: each event goes at once.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session

from storage.db import utcnow
from storage.models import ChannelDelivery, Delivery, Event
from storage.repository import active_channels, active_subscribers, stored_id
from tracker.alerts.subscribers import follows, severity_reaches

IMMEDIATE = "immediate"
DIGEST = "digest"


def message_id(kind: str, base_url: str, *parts: int | str) -> str:
    """A stable Message-ID: the same delivery always carries the same one."""
    host = urlsplit(base_url).hostname or "rulewatch.localhost"
    return f"<rulewatch.{kind}.{'.'.join(str(p) for p in parts)}@{host}>"


def enqueue(session: Session, event: Event, source_name: str) -> list[Delivery]:
    if event.baseline or (event.kind == "changed" and event.severity == "cosmetic"):
        return []
    deliveries = []
    now = utcnow()
    for subscriber in active_subscribers(session):
        if not follows(subscriber, event, source_name):
            continue
        if event.kind == "expectation_met" or subscriber.digest == "off":
            if not severity_reaches(subscriber, event):
                continue
            cadence = IMMEDIATE
        else:
            cadence = DIGEST  # digests gather minor changes too, whatever min_severity says
        delivery = Delivery(
            event_id=stored_id(event),
            subscriber_id=stored_id(subscriber),
            cadence=cadence,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(delivery)
        deliveries.append(delivery)
    for channel in active_channels(session):
        if follows(channel, event, source_name) and severity_reaches(channel, event):
            session.add(
                ChannelDelivery(
                    event_id=stored_id(event), channel_id=stored_id(channel), next_attempt_at=now, created_at=now
                )
            )
    return deliveries
