"""Signed tokens in links (unsubscribe, a subscriber's feed and settings page): revocable, never guessable.

A token carries the subscriber id and their `token_version`; raising the version
revokes every link given out before. The key comes from [web] secret_key or
RULEWATCH_SECRET_KEY, else one is generated once and kept in the database.
"""

from __future__ import annotations

import secrets
import time

from itsdangerous import (
    BadSignature,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from sqlmodel import Session

from storage.db import insert_if_absent
from storage.models import Setting, Subscriber

UNSUBSCRIBE = "unsubscribe"
FEED = "feed"
MANAGE = "manage"  # a subscriber's own settings page; such links also expire
MANAGE_MAX_AGE = 30 * 24 * 3600  # seconds a manage link stays valid


def signing_key(session: Session, configured: str = "") -> str:
    if configured:
        return configured
    stored = session.get(Setting, "signing_key")
    if stored is None:
        # Two processes may start at once: the first key written wins for both.
        insert_if_absent(session, Setting, ["key"], {"key": "signing_key", "value": secrets.token_urlsafe(32)})
        session.flush()
        session.expire_all()
        stored = session.get(Setting, "signing_key")
        if stored is None:
            raise LookupError("the signing key written just now cannot be read back")
    return stored.value


def make_token(key: str, subscriber: Subscriber, purpose: str) -> str:
    return URLSafeSerializer(key, salt=purpose).dumps([subscriber.id, subscriber.token_version])


def subscriber_for_token(session: Session, key: str, token: str, purpose: str) -> Subscriber | None:
    """The subscriber a token names, or None when it is forged, mangled or revoked."""
    try:
        subscriber_id, version = URLSafeSerializer(key, salt=purpose).loads(token)
    except (BadSignature, TypeError, ValueError):
        return None
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        return None
    return subscriber


class _ClockedSigner(TimestampSigner):
    """A TimestampSigner that reads the time from `clock`, so that callers and tests can set "now"."""

    def __init__(self, *args, clock=time.time, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock())


def _timed(key: str, purpose: str, now: float | None) -> URLSafeTimedSerializer:
    clock = time.time if now is None else (lambda: now)
    return URLSafeTimedSerializer(key, salt=purpose, signer=_ClockedSigner, signer_kwargs={"clock": clock})


def make_manage_token(key: str, subscriber: Subscriber, now: float | None = None) -> str:
    """A link token for the subscription page: it expires, and raising token_version revokes it."""
    return _timed(key, MANAGE, now).dumps([subscriber.id, subscriber.token_version])


def subscriber_for_manage_token(
    session: Session, key: str, token: str, max_age: int = MANAGE_MAX_AGE, now: float | None = None
) -> Subscriber | None:
    """The subscriber a manage token names, or None when it is forged, expired or revoked."""
    try:
        subscriber_id, version = _timed(key, MANAGE, now).loads(token, max_age=max_age)
    except (BadSignature, TypeError, ValueError):
        return None
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        return None
    return subscriber
