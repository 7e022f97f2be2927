"""Accounts of the review desk: one-time sign-in links, Argon2 passwords, sessions, sign-in limits.

An account starts without a password: `rulewatch users add` prints a one-time link
(valid 24 hours, only its SHA-256 kept) whose page lets its owner choose one. Following
the link again, after it was used or once a newer one was issued, does nothing; two
posts of one link at once spend it once (a conditional UPDATE).

Passwords are hashed with Argon2id at OWASP's first recommendation, 2 passes over 19 MiB
with one lane: every check at /login takes that much memory, and a process runs at most
CHECKS_AT_ONCE of them at a time (more answer 429 at once), so a burst of sign-ins costs
at most 38 MiB and two cores. Hashes made with other parameters (argon2-cffi's default,
64 MiB, before) still verify, at their own cost, and are made anew at the next sign-in. A session is a random
id in a cookie whose SHA-256 is a row; signing out deletes the row, and it ends by itself
after 12 hours.

Sign-in attempts are counted in the database: each is stored and committed before its
password is checked (forgiven when it matches), so parallel requests see each other. 10
failures from one address, or 5 for one account from one address, within 15 minutes hold
that address (or that account from that address) back (429) until the oldest of them is
15 minutes old. Guesses from elsewhere never lock an account's owner out; spraying from
one address meets its address limit. An unknown address costs the same hashing time as a
known one, so timing does not tell which accounts exist.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, update

from storage.db import utcnow
from storage.models import SignInFailure, SignInLink, UserAccount, UserSession
from storage.repository import (
    forget_sign_in_failures,
    forget_user_sessions,
    get_user,
    recent_sign_in_failures,
    stored_id,
)
from tracker.config import InvalidEmail, normalize_email
from tracker.desk.audit import record

ROLES = ("viewer", "reviewer", "admin")
REVIEWER_ROLES = ("reviewer", "admin")  # who may review events
LINK_PATH = "/login/link/"  # + the token: the page of a one-time sign-in link
LINK_MAX_AGE = timedelta(hours=24)
LINK_INVALID = "This sign-in link is no longer valid: it was used, it expired, or a newer one was given."
SESSION_MAX_AGE = timedelta(hours=12)
MIN_PASSWORD = 12  # characters
MAX_PASSWORD = 1024  # characters: more is refused before hashing
CLIENT_LIMIT = 10  # failed sign-ins from one address …
ACCOUNT_LIMIT = 5  # … or for one account from one address …
LIMIT_WINDOW = timedelta(minutes=15)  # … within this long, then 429 until the oldest is this old
CHECKS_AT_ONCE = 2  # password checks a process runs at the same time; more are answered 429
BUSY_RETRY_AFTER = 2  # seconds: the Retry-After of that 429

# OWASP's Password Storage Cheat Sheet, first choice for Argon2id: m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_checks = threading.BoundedSemaphore(CHECKS_AT_ONCE)
_unknown_account_hash: list[str] = []  # a hash to check unknown addresses against, made once


class AccountError(ValueError):
    """An account cannot be added, found or changed; the message says what to do."""


class LinkInvalid(AccountError):
    """A one-time link that was used, expired or replaced."""


class SignInLimited(Exception):
    """Too many failed sign-ins lately from this address, or for this account from it."""

    def __init__(self, wait_seconds: int, text: str = ""):
        super().__init__(text or f"Too many failed sign-ins; try again in {math.ceil(wait_seconds / 60)} minute(s).")
        self.wait_seconds = wait_seconds


class SignInBusy(SignInLimited):
    """This process is already checking CHECKS_AT_ONCE passwords."""

    def __init__(self) -> None:
        super().__init__(BUSY_RETRY_AFTER, f"Too many sign-ins at once; try again in {BUSY_RETRY_AFTER} seconds.")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_email(address: str) -> str:
    try:
        return normalize_email(address)
    except InvalidEmail as exc:
        raise AccountError(str(exc)) from None


def require_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    return role


# -- passwords -----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, email: str) -> str | None:
    """Why a chosen password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Choose a password of at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Choose a password of at most {MAX_PASSWORD} characters."
    if password.strip().lower() == email.lower():
        return "Choose a password other than your e-mail address."
    return None


# -- accounts and their one-time links -------------------------------------------------------


def add_user(
    session: Session, email: str, role: str, actor: str, now: datetime | None = None
) -> tuple[UserAccount, str]:
    """A new account without a password, and the token of its one-time sign-in link."""
    now = now or utcnow()
    email, role = account_email(email), require_role(role)
    if get_user(session, email) is not None:
        raise AccountError(f"{email} already has an account; `rulewatch users link {email}` gives them a new link")
    user = UserAccount(email=email, role=role, created_at=now)
    session.add(user)
    session.flush()
    record(session, actor, "user_added", now, subject=email, detail=f"role {role}")
    return user, issue_link(session, user, actor, now)


def issue_link(session: Session, user: UserAccount, actor: str, now: datetime | None = None) -> str:
    """A new one-time link for the account (to set or reset a password); earlier links stop working."""
    now = now or utcnow()
    user_id = stored_id(user)
    session.exec(delete(SignInLink).where(col(SignInLink.user_id) == user_id))
    token = secrets.token_urlsafe(32)
    session.add(SignInLink(token_sha256=_sha256(token), user_id=user_id, created_at=now, expires_at=now + LINK_MAX_AGE))
    record(session, actor, "sign_in_link", now, subject=user.email)
    return token


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}{token}"


def user_for_link(session: Session, token: str, now: datetime | None = None) -> UserAccount | None:
    """The account a one-time link is for, while the link is unused and unexpired."""
    link = session.get(SignInLink, _sha256(token)) if token else None
    if link is None or link.used_at is not None or link.expires_at <= (now or utcnow()):
        return None
    return session.get(UserAccount, link.user_id)


def set_password(session: Session, token: str, password: str, now: datetime | None = None) -> UserAccount:
    """Use a one-time link: the account's password becomes `password`, the link is spent, and
    the account's other sessions end (a reset locks out whoever had the old password)."""
    now = now or utcnow()
    user = user_for_link(session, token, now)
    if user is None:
        raise LinkInvalid(LINK_INVALID)
    problem = password_problem(password, user.email)
    if problem:
        raise AccountError(problem)
    encoded = hash_password(password)
    # Spent only if still unspent: of two posts at once, the second finds it used (or waits for the first).
    spent = session.exec(
        update(SignInLink)
        .where(
            col(SignInLink.token_sha256) == _sha256(token),
            col(SignInLink.used_at).is_(None),
            col(SignInLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise LinkInvalid(LINK_INVALID)
    user.password_hash = encoded
    user.password_set_at = now
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user.id))
    record(session, user.email, "password_set", now, subject=user.email)
    return user


def remove_user(session: Session, email: str, actor: str, now: datetime | None = None) -> UserAccount:
    """Delete an account, its sessions (signed out at once) and its links. Its reviews, notes and
    audit entries keep its address."""
    now = now or utcnow()
    email = account_email(email)
    user = get_user(session, email)
    if user is None:
        raise AccountError(f"{email} has no account; `rulewatch users list` shows who has one")
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user.id))
    session.exec(delete(SignInLink).where(col(SignInLink.user_id) == user.id))
    session.delete(user)
    record(session, actor, "user_removed", now, subject=email, detail=f"role {user.role}")
    return user


# -- signing in ------------------------------------------------------------------------------


def _wait(failures: list[datetime], now: datetime) -> int:
    return max(1, math.ceil((failures[-1] + LIMIT_WINDOW - now).total_seconds()))


def sign_in(
    session: Session, typed_email: str, password: str, client: str, now: datetime | None = None
) -> UserAccount | None:
    """The account whose e-mail and password these are, or None (the attempt stays a failure).

    SignInBusy when this process is checking CHECKS_AT_ONCE passwords already; SignInLimited,
    without looking at the password, when the address, or the account from this address, failed
    too often. Commits: the attempt is stored before the password is checked, and no
    transaction stays open while Argon2 runs."""
    now = now or utcnow()
    client = client[:100]
    try:
        email = account_email(typed_email)
    except AccountError:
        email = typed_email.strip().lower()[:320]
    if not _checks.acquire(blocking=False):
        raise SignInBusy()
    try:
        encoded = _count_attempt(session, client, email, now)
        if encoded is not None and len(password) <= MAX_PASSWORD:
            matches = password_matches(encoded, password)
        else:
            # The same work as a real check, so an unknown address answers as slowly as a known one.
            if not _unknown_account_hash:
                _unknown_account_hash.append(hash_password(secrets.token_urlsafe(16)))
            password_matches(_unknown_account_hash[0], password[:MAX_PASSWORD])
            matches = False
    finally:
        _checks.release()
    if not matches:
        return None
    forget_sign_in_failures(session, until=now, email=email, client=client)  # this attempt and earlier ones
    user = get_user(session, email)
    if user is not None and user.password_hash and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _count_attempt(session: Session, client: str, email: str, now: datetime) -> str | None:
    """Store a sign-in attempt as a failure, committed, then check the limits against the
    attempts stored before it; the hash to check the password against (None: no such account)."""
    since = now - LIMIT_WINDOW
    forget_sign_in_failures(session, until=since)
    attempt = SignInFailure(client=client, email=email, at=now)
    session.add(attempt)
    session.commit()  # seen by every attempt that counts after this one
    attempt_id = stored_id(attempt)
    for failures, limit in (
        (recent_sign_in_failures(session, since, CLIENT_LIMIT, client=client, other_than=attempt_id), CLIENT_LIMIT),
        (
            recent_sign_in_failures(session, since, ACCOUNT_LIMIT, client=client, email=email, other_than=attempt_id),
            ACCOUNT_LIMIT,
        ),
    ):
        if len(failures) >= limit:
            session.exec(delete(SignInFailure).where(col(SignInFailure.id) == attempt_id))
            session.commit()  # refused unchecked: not a guess
            raise SignInLimited(_wait(failures, now))
    user = get_user(session, email)
    encoded = user.password_hash if user is not None else None
    session.commit()  # no transaction (on SQLite, no write lock) held while Argon2 runs
    return encoded


def start_session(session: Session, user: UserAccount, client: str, now: datetime | None = None) -> str:
    """A new session of the account, stored and audited; the value its cookie carries."""
    now = now or utcnow()
    forget_user_sessions(session, expired_by=now)
    session_id = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            id_sha256=_sha256(session_id), user_id=stored_id(user), created_at=now, expires_at=now + SESSION_MAX_AGE
        )
    )
    record(session, user.email, "sign_in", now, subject=user.email, detail=f"from {client[:100]}")
    return session_id


def session_user(session: Session, cookie: str | None, now: datetime | None = None) -> tuple[UserAccount, str] | None:
    """The account a session cookie is signed in as, and the session's key; None when it is
    forged, ended or expired."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.get(UserSession, _sha256(cookie))
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    user = session.get(UserAccount, row.user_id)
    return (user, row.id_sha256) if user is not None else None


def end_session(session: Session, cookie: str | None, client: str, now: datetime | None = None) -> UserAccount | None:
    """Sign out: the session's row is deleted, so every copy of its cookie stops working."""
    now = now or utcnow()
    found = session_user(session, cookie, now)
    if found is None or cookie is None:
        return None
    user, key = found
    session.exec(delete(UserSession).where(col(UserSession.id_sha256) == key))
    record(session, user.email, "sign_out", now, subject=user.email, detail=f"from {client[:100]}")
    return user
