"""Subscribers: validated, normalized, synced from the configuration, and what each follows."""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session

from storage.db import utcnow
from storage.models import Event, Subscriber
from storage.repository import get_subscriber
from tracker.config import SEVERITIES, InvalidEmail, normalize_email
from tracker.settings import SubscriberConfig
from tracker.severity.model import SEVERITY_ORDER


class SubscriberError(ValueError):
    """A subscriber that cannot be accepted, phrased for the person adding it."""


def subscriber_email(address: str) -> str:
    """The address as a subscriber row holds it (tracker.config.normalize_email), or a SubscriberError."""
    try:
        return normalize_email(address)
    except InvalidEmail as exc:
        raise SubscriberError(str(exc)) from None


def upsert_subscriber(session: Session, wanted: SubscriberConfig, reactivate: bool = True) -> Subscriber:
    """Create or update the subscriber with this address; one row per address.

    Syncing the configuration passes reactivate=False, so that someone who
    unsubscribed through a link stays unsubscribed after a restart.
    """
    email = subscriber_email(wanted.email)
    if wanted.min_severity not in SEVERITIES[1:]:
        raise SubscriberError(f"min_severity must be minor or substantive, got {wanted.min_severity!r}")
    if wanted.digest not in ("off", "daily", "weekly"):
        raise SubscriberError(f"digest must be off, daily or weekly, got {wanted.digest!r}")
    subscriber = get_subscriber(session, email)
    if subscriber is None:
        subscriber = Subscriber(email=email, created_at=utcnow())
        session.add(subscriber)
    subscriber.sources = sorted(set(wanted.sources))
    subscriber.expectations = sorted(set(wanted.expectations))
    subscriber.min_severity = wanted.min_severity
    if subscriber.digest != wanted.digest:
        subscriber.digest = wanted.digest
        subscriber.last_digest_at = utcnow()  # a new cadence counts its periods from now
    if reactivate and not subscriber.active:
        subscriber.active = True
    session.flush()
    return subscriber


def sync_subscribers(session: Session, configured: tuple[SubscriberConfig, ...]) -> None:
    """Config subscribers are created or updated; others (added with the CLI) are left alone."""
    for wanted in configured:
        upsert_subscriber(session, wanted, reactivate=False)


def deactivate(session: Session, email: str) -> Subscriber | None:
    subscriber = get_subscriber(session, subscriber_email(email))
    if subscriber is not None:
        subscriber.active = False
        subscriber.token_version += 1  # older signed links stop working
    return subscriber


class Follower(Protocol):
    """A subscriber, or a channel: what it follows, and the least change it hears of."""

    sources: list[str]
    expectations: list[str]
    min_severity: str


def follows(subscriber: Follower, event: Event, source_name: str) -> bool:
    """Is this event about something the subscriber (or channel) follows (source or expectation)?"""
    expectations = set(subscriber.expectations)
    if event.kind == "expectation_met":
        met = set(event.expectations)
        return not expectations or bool(expectations & met)
    sources = set(subscriber.sources)
    return not sources or source_name in sources


def severity_reaches(subscriber: Follower, event: Event) -> bool:
    """A change is at least as severe as the subscriber asked for; other events always are."""
    if event.kind != "changed":
        return True
    return SEVERITY_ORDER.get(event.severity or "", 0) >= SEVERITY_ORDER[subscriber.min_severity]
