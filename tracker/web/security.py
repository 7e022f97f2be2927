"""Security for the web app: headers, CSRF tokens, and who counts as an admin.

CSRF without sessions: a form carries a token that signs (with the app's signing
key and a timestamp) the subject the form acts on, such as "manage:<subscriber
id>:<token version>". Only someone who could load the form gets a valid token,
and it expires. The one-click unsubscribe POST needs none: its signed link is
the credential (RFC 8058).

Admins: `[web] admin_token` (or RULEWATCH_ADMIN_TOKEN). The API takes it as
`Authorization: Bearer <token>`; the admin page takes the same header, or a
cookie set by the login form. The cookie carries the random id of a session row
(admin_session), signed; logging out deletes the row, and it expires after
8 hours, or when the admin token changes. It is HttpOnly and SameSite=Strict.

Token guesses: after 10 wrong admin tokens from one client address within 15
minutes (login form or Bearer header), that address gets 429 with Retry-After,
even for the right token, until the oldest of them is 15 minutes old. The
failures are rows in the database, so every process of the app counts them
together. The address is the one Uvicorn reports: behind a reverse proxy, let
it pass X-Forwarded-For (Uvicorn trusts it from 127.0.0.1 by default), or all
clients share one address and one limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from datetime import datetime, timedelta

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session

from storage.db import utcnow
from storage.models import AdminAuthFailure, AdminSession
from storage.repository import forget_admin_sessions, forget_auth_failures, recent_auth_failures

# Scripts: only the app's own files (the redline page's keys, static/rulewatch-changes.js); never
# an inline one. Fetched bytes are served only as downloads (nosniff), so none can run as a script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Feed, unsubscribe and subscription URLs carry secret tokens: never hand them to other sites.
    "Referrer-Policy": "no-referrer",
}

CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 12 * 3600  # seconds a form stays usable

ADMIN_COOKIE = "rulewatch_admin"
ADMIN_SESSION_MAX_AGE = 8 * 3600
GUESS_LIMIT = 10  # wrong admin tokens from one address …
GUESS_WINDOW = timedelta(minutes=15)  # … within this long, then 429 until the oldest is this old
ADMIN_HELP = (
    "The admin pages are off: set an admin token with admin_token under [web] in the configuration, "
    "or the RULEWATCH_ADMIN_TOKEN environment variable, then restart."
)


def docs_csp(body: bytes) -> str:
    """The policy of the API docs page: the site's own files, and only the inline scripts it has now."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in re.findall(rb"<script>(.*?)</script>", body, re.DOTALL)
    ]
    return (
        f"default-src 'self'; script-src 'self' {' '.join(hashes)}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
    )


# -- CSRF ---------------------------------------------------------------------------


def csrf_token(key: str, subject: str) -> str:
    return URLSafeTimedSerializer(key, salt="csrf").dumps(subject)


def csrf_valid(key: str, subject: str, token: str | None, max_age: int = CSRF_MAX_AGE) -> bool:
    if not token:
        return False
    try:
        signed = URLSafeTimedSerializer(key, salt="csrf").loads(token, max_age=max_age)
    except BadSignature:  # forged, mangled or expired
        return False
    return hmac.compare_digest(str(signed).encode(), subject.encode())


# -- admins -------------------------------------------------------------------------


def _fingerprint(key: str, admin_token: str) -> str:
    return hmac.new(key.encode(), b"admin:" + admin_token.encode(), hashlib.sha256).hexdigest()


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="admin-session")


def _session_id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_admin_session(session: Session, key: str, admin_token: str, now: datetime | None = None) -> str:
    """A new session, stored; the cookie value that names it."""
    now = now or utcnow()
    forget_admin_sessions(session, expired_by=now)
    session_id = secrets.token_urlsafe(32)
    session.add(
        AdminSession(
            id_sha256=_session_id_hash(session_id),
            token_fingerprint=_fingerprint(key, admin_token),
            created_at=now,
            expires_at=now + timedelta(seconds=ADMIN_SESSION_MAX_AGE),
        )
    )
    session.commit()
    return _serializer(key).dumps(session_id)


def _session_row(session: Session, key: str, cookie: str | None) -> AdminSession | None:
    if not cookie:
        return None
    try:
        session_id = _serializer(key).loads(cookie, max_age=ADMIN_SESSION_MAX_AGE)
    except BadSignature:  # forged, mangled or expired
        return None
    return session.get(AdminSession, _session_id_hash(str(session_id)))


def admin_session_valid(
    session: Session, key: str, admin_token: str, cookie: str | None, now: datetime | None = None
) -> bool:
    row = _session_row(session, key, cookie) if admin_token else None
    return (
        row is not None
        and row.expires_at > (now or utcnow())
        and hmac.compare_digest(row.token_fingerprint, _fingerprint(key, admin_token))
    )


def end_admin_session(session: Session, key: str, cookie: str | None) -> None:
    row = _session_row(session, key, cookie)
    if row is not None:
        session.delete(row)
        session.commit()


def token_matches(given: str, admin_token: str) -> bool:
    return bool(admin_token) and hmac.compare_digest(given.encode(), admin_token.encode())


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, or None without one."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "") or "unknown"


def require_admin_token(
    session: Session, request: Request, given: str, admin_token: str, now: datetime | None = None
) -> bool:
    """Whether `given` is the admin token. A wrong one is recorded against the client's address;
    an address with too many recent failures gets 429 without its token being looked at."""
    now, client = now or utcnow(), client_address(request)[:100]
    recent = recent_auth_failures(session, client, since=now - GUESS_WINDOW, limit=GUESS_LIMIT)
    if len(recent) >= GUESS_LIMIT:
        wait = max(1, math.ceil((recent[-1] + GUESS_WINDOW - now).total_seconds()))
        raise HTTPException(
            429,
            f"Too many wrong admin tokens from this address; try again in {math.ceil(wait / 60)} minute(s).",
            headers={"Retry-After": str(wait)},
        )
    if token_matches(given, admin_token):
        return True
    forget_auth_failures(session, until=now - GUESS_WINDOW)
    session.add(AdminAuthFailure(client=client, at=now))
    session.commit()  # kept even when the request ends in an error response
    return False
