"""Who is asking, and the sign-in gate.

A reader is a signed-in account (the `rulewatch_session` cookie, tracker.desk.accounts) or
the holder of the admin token (the admin page's cookie, or `Authorization: Bearer` on any
path). With no account in the database the app is as it always was: its pages and API are
public, the admin token guards /admin. Once an account exists, every page needs a sign-in
(a redirect to /login) and every API path a session or the admin token (401), except
feeds, subscribers' own links (/subscription/…, /unsubscribe/…), /login and /healthz.

The session cookie is HttpOnly and SameSite=Lax. Every cookie the app sets (the session's,
the sign-in forms', the admin token's) is Secure when [web] base_url is https or the request
came over https (secure_cookies).
Lax, not Strict, so a link from an e-mail to a redline opens signed in; a form posted from
another site carries no cookie, and every form here carries a CSRF token bound to the
session besides. The one JSON route that writes (POST /api/events/{id}/review) takes only
`application/json`, which no other site can send without the browser asking first.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from storage.db import session_scope
from storage.repository import accounts_exist
from tracker.desk.accounts import REVIEWER_ROLES, SESSION_MAX_AGE, session_user
from tracker.desk.audit import ADMIN_TOKEN_ACTOR
from tracker.settings import Config
from tracker.web.common import key_for, message
from tracker.web.security import (
    ADMIN_COOKIE,
    admin_session_valid,
    bearer_token,
    csrf_token,
    csrf_valid,
    require_admin_token,
)

SESSION_COOKIE = "rulewatch_session"
LOGIN_COOKIE = "rulewatch_login"  # a random value the sign-in forms' CSRF tokens are bound to
LOGIN_COOKIE_PATH = "/login"
# Paths that never need a sign-in: feeds, subscribers' own links, signing in, health.
OPEN_PREFIXES = ("/feeds/", "/subscription/", "/unsubscribe/", "/login")
UNTOUCHED_PREFIXES = ("/static/", "/docs/assets/")  # files: nobody is looked up for them
UNTOUCHED = frozenset({"/healthz"})
SIGN_IN_API = "Sign in at /login, or send the admin token as Authorization: Bearer <token>."


@dataclass(frozen=True)
class Reader:
    """Who is asking: an account, or whoever holds the admin token (then `email` says so)."""

    email: str
    role: str
    user_id: int | None  # None for the admin token
    csrf_subject: str  # what the CSRF tokens of this reader's forms sign: bound to their session

    @property
    def may_review(self) -> bool:
        return self.role in REVIEWER_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def has_account(self) -> bool:
        return self.user_id is not None


def _cookie_reader(session: Session, request: Request, config: Config) -> Reader | None:
    found = session_user(session, request.cookies.get(SESSION_COOKIE))
    if found is not None:
        user, key = found
        return Reader(user.email, user.role, user.id, f"session:{key}")
    admin_cookie = request.cookies.get(ADMIN_COOKIE)
    if admin_cookie and config.web.admin_token:
        key = signing_key_of(request, session, config)
        if admin_session_valid(session, key, config.web.admin_token, admin_cookie):
            return Reader(
                ADMIN_TOKEN_ACTOR, "admin", None, "admin:" + hashlib.sha256(admin_cookie.encode()).hexdigest()
            )
    return None


def signing_key_of(request: Request, session: Session, config: Config) -> str:
    """The signing key (tracker.web.common.key_for), read once per request."""
    key = getattr(request.state, "signing_key", None)
    if key is None:
        key = request.state.signing_key = key_for(session, config)
    return key


def reader_of(request: Request, session: Session, config: Config, bearer: bool = True) -> Reader | None:
    """Who is asking, found once per request. With `bearer`, an `Authorization: Bearer` header is
    checked as the admin token when no cookie signs the request in (a wrong one counts as a guess,
    and too many give 429: tracker.web.security.require_admin_token)."""
    state = request.state
    if not hasattr(state, "reader"):
        state.reader = _cookie_reader(session, request, config) if request.cookies else None
    if state.reader is None and bearer and not getattr(state, "bearer_checked", False):
        state.bearer_checked = True
        given = bearer_token(request)
        admin_token = config.web.admin_token
        if given is not None and admin_token and require_admin_token(session, request, given, admin_token):
            state.reader = Reader(ADMIN_TOKEN_ACTOR, "admin", None, "bearer")
    return state.reader


def form_csrf(request: Request, session: Session, config: Config, reader: Reader) -> str:
    return csrf_token(signing_key_of(request, session, config), reader.csrf_subject)


def form_csrf_valid(request: Request, session: Session, config: Config, reader: Reader, given: str) -> bool:
    return csrf_valid(signing_key_of(request, session, config), reader.csrf_subject, given)


# -- the gate ----------------------------------------------------------------------------------


def is_untouched(path: str) -> bool:
    return path in UNTOUCHED or path.startswith(UNTOUCHED_PREFIXES)


def needs_sign_in(path: str, config: Config) -> bool:
    """Whether a path needs a sign-in once accounts exist. The admin pages sign in with the
    admin token themselves while one is configured."""
    if path.startswith(OPEN_PREFIXES):
        return False
    return not (config.web.admin_token and (path == "/admin" or path.startswith("/admin/")))


def gate(request: Request) -> Response | None:
    """Run before every route (blocking: from a worker thread). Finds the reader for the
    templates and routes, and refuses what needs a sign-in when accounts exist and none was given."""
    config: Config = request.app.state.config
    with session_scope(request.app.state.engine) as session:
        reader = reader_of(request, session, config, bearer=False)
        if reader is not None and reader.has_account:
            request.state.signout_csrf = form_csrf(request, session, config, reader)
        path = request.url.path
        if reader is not None or not needs_sign_in(path, config) or not accounts_exist(session):
            return None
        try:
            reader = reader_of(request, session, config)
        except HTTPException as exc:  # too many wrong admin tokens
            return _refusal(request, exc.status_code, str(exc.detail), exc.headers)
        if reader is not None:
            return None
    if path.startswith("/api/"):
        return _refusal(request, 401, SIGN_IN_API, {"WWW-Authenticate": "Bearer"})
    if request.method in ("GET", "HEAD"):
        wanted = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(wanted, safe='/')}", status_code=303)
    return _refusal(request, 401, "Sign in first", {})


def _refusal(request: Request, status: int, text: str, headers: Mapping[str, str] | None) -> Response:
    response: Response
    if request.url.path.startswith("/api/"):
        response = JSONResponse({"detail": text}, status_code=status)
    else:
        heading = "Too many attempts" if status == 429 else "Sign in first"
        response = message(request, status, heading, text if status == 429 else "Sign in at /login to see this page.")
    response.headers.update(headers or {})
    return response


# -- cookies -------------------------------------------------------------------------------------


def secure_cookies(request: Request, config: Config) -> bool:
    """Whether a cookie set in answer to this request gets the Secure flag: behind a proxy that
    ends TLS the request itself is plain http, so an https base_url decides too."""
    return config.web.base_url.startswith("https://") or request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, config: Config, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_MAX_AGE.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, config),
    )


def clear_session_cookie(response: Response, request: Request, config: Config) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request, config)
    )


def login_nonce(request: Request) -> tuple[str, bool]:
    """The value the sign-in forms' CSRF tokens are bound to, and whether it is new (to be set)."""
    given = request.cookies.get(LOGIN_COOKIE, "")
    if 20 <= len(given) <= 100:
        return given, False
    return secrets.token_urlsafe(24), True


def set_login_cookie(response: Response, request: Request, config: Config, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=12 * 3600,
        path=LOGIN_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, config),
    )


def local_path(target: str, default: str = "/") -> str:
    """`target` when it is a path on this site, else `default`: never a redirect elsewhere."""
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return default
    return target
