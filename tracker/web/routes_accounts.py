"""Signing in and out, and the page of a one-time sign-in link (tracker.desk.accounts).

The sign-in forms' CSRF tokens are bound to a random cookie of their own (path /login), so
another site can neither post them nor sign a browser in to an account of its choosing.
Following a link (GET) changes nothing: a mail scanner that opens it spends nothing; the
link is spent when its form is posted.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from storage.repository import accounts_exist
from tracker.desk.accounts import (
    LINK_PATH,
    MIN_PASSWORD,
    AccountError,
    LinkInvalid,
    SignInLimited,
    end_session,
    set_password,
    sign_in,
    start_session,
    user_for_link,
)
from tracker.settings import Config
from tracker.web.auth import (
    SESSION_COOKIE,
    clear_session_cookie,
    form_csrf_valid,
    local_path,
    login_nonce,
    reader_of,
    set_login_cookie,
    set_session_cookie,
    signing_key_of,
)
from tracker.web.common import first, forbidden, form_fields, get_config, get_session, message, page
from tracker.web.security import CSRF_FIELD, client_address, csrf_token, csrf_valid

router = APIRouter(tags=["accounts"], include_in_schema=False)

BAD_CSRF = "This form has expired or did not come from this site. Reload the page and try again."
WRONG = "That e-mail address and password do not match an account."
LINK_INVALID = (
    "This sign-in link is no longer valid: it was used, it expired (links last 24 hours), or a newer one "
    "was given. Ask an admin for a new one (`rulewatch users link EMAIL`)."
)


def _login_subject(nonce: str) -> str:
    return f"login:{nonce}"


def _link_subject(token: str, nonce: str) -> str:
    return f"link:{hashlib.sha256(token.encode()).hexdigest()}:{nonce}"


def _login_page(
    request: Request, session: Session, config: Config, next_path: str, status_code: int = 200, error: str = ""
):
    nonce, new = login_nonce(request)
    response = page(
        request,
        "login.html",
        status_code=status_code,
        error=error,
        next_path=next_path,
        no_accounts=not accounts_exist(session),
        csrf=csrf_token(signing_key_of(request, session, config), _login_subject(nonce)),
    )
    if new:
        set_login_cookie(response, request, config, nonce)
    return response


@router.get("/login")
def login_form(
    request: Request,
    next_path: str = Query("/", alias="next"),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    reader = reader_of(request, session, config, bearer=False)
    if reader is not None and reader.has_account:
        return RedirectResponse(local_path(next_path), status_code=303)
    return _login_page(request, session, config, local_path(next_path))


@router.post("/login")
def login(
    request: Request,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    next_path = local_path(first(form, "next"))
    nonce, new = login_nonce(request)
    key = signing_key_of(request, session, config)
    if new or not csrf_valid(key, _login_subject(nonce), first(form, CSRF_FIELD)):
        return _login_page(request, session, config, next_path, 403, BAD_CSRF)
    client = client_address(request)
    try:
        user = sign_in(session, first(form, "email"), first(form, "password"), client)
    except SignInLimited as exc:
        response = _login_page(request, session, config, next_path, 429, str(exc))
        response.headers["Retry-After"] = str(exc.wait_seconds)
        return response
    if user is None:
        session.commit()  # the failure counts even though the answer is a refusal
        return _login_page(request, session, config, next_path, 401, WRONG)
    end_session(session, request.cookies.get(SESSION_COOKIE), client)  # a new session id at every sign-in
    session_id = start_session(session, user, client)
    session.commit()
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, config, session_id)
    return response


@router.post("/logout")
def logout(
    request: Request,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    reader = reader_of(request, session, config, bearer=False)
    if reader is None or not reader.has_account:
        return RedirectResponse("/login", status_code=303)
    if not form_csrf_valid(request, session, config, reader, first(form, CSRF_FIELD)):
        return forbidden(request, BAD_CSRF)
    end_session(session, request.cookies.get(SESSION_COOKIE), client_address(request))
    session.commit()  # ended on the server before the answer says so
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request, config)
    return response


# -- one-time links ------------------------------------------------------------------------------


def _link_page(
    request: Request, session: Session, config: Config, token: str, email: str, status_code: int = 200, error: str = ""
):
    nonce, new = login_nonce(request)
    response = page(
        request,
        "link.html",
        status_code=status_code,
        email=email,
        error=error,
        action=f"{LINK_PATH}{token}",
        min_password=MIN_PASSWORD,
        csrf=csrf_token(signing_key_of(request, session, config), _link_subject(token, nonce)),
    )
    if new:
        set_login_cookie(response, request, config, nonce)
    return response


@router.get(LINK_PATH + "{token}")
def link_form(
    request: Request, token: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    user = user_for_link(session, token)
    if user is None:
        return message(request, 404, "Link no longer valid", LINK_INVALID)
    return _link_page(request, session, config, token, user.email)


@router.post(LINK_PATH + "{token}")
def use_link(
    request: Request,
    token: str,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    user = user_for_link(session, token)
    if user is None:
        return message(request, 404, "Link no longer valid", LINK_INVALID)
    nonce, new = login_nonce(request)
    if new or not csrf_valid(
        signing_key_of(request, session, config), _link_subject(token, nonce), first(form, CSRF_FIELD)
    ):
        return _link_page(request, session, config, token, user.email, 403, BAD_CSRF)
    password = first(form, "password")
    if password != first(form, "confirm"):
        return _link_page(request, session, config, token, user.email, 400, "The two passwords differ.")
    try:
        set_password(session, token, password)
    except LinkInvalid:  # spent by another post of the same link a moment ago
        return message(request, 404, "Link no longer valid", LINK_INVALID)
    except AccountError as exc:
        return _link_page(request, session, config, token, user.email, 400, str(exc))
    client = client_address(request)
    end_session(session, request.cookies.get(SESSION_COOKIE), client)
    session_id = start_session(session, user, client)
    session.commit()
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, config, session_id)
    return response
