"""A subscriber's own signed links, carried by every message they receive."""

from __future__ import annotations

from sqlmodel import Session

from storage.models import Subscriber
from tracker.alerts.tokens import FEED, UNSUBSCRIBE, make_manage_token, make_token, signing_key
from tracker.settings import Config


def unsubscribe_url(session: Session, config: Config, subscriber: Subscriber) -> str:
    token = make_token(signing_key(session, config.web.secret_key), subscriber, UNSUBSCRIBE)
    return f"{config.web.base_url}/unsubscribe/{token}"


def subscription_url(session: Session, config: Config, subscriber: Subscriber) -> str:
    """The subscriber's own page to change what they follow (a signed link that expires)."""
    token = make_manage_token(signing_key(session, config.web.secret_key), subscriber)
    return f"{config.web.base_url}/subscription/{token}"


def subscriber_feed_url(session: Session, config: Config, subscriber: Subscriber) -> str:
    """The subscriber's own Atom feed, at a secret (signed) URL."""
    token = make_token(signing_key(session, config.web.secret_key), subscriber, FEED)
    return f"{config.web.base_url}/feeds/subscribers/{token}.atom"
