"""Admin pages and API: sources with their full errors, subscribers, channels, failing deliveries.

The API wants `Authorization: Bearer <token>` with `[web] admin_token` (or
RULEWATCH_ADMIN_TOKEN), and is off without one. The page takes that header, the
session cookie its token login form sets, or an account with the admin role
signed in at /login; it is off with neither a token nor accounts. Wrong tokens
are counted per client address, and too many give 429 (see tracker.web.security).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from storage.db import utcnow
from storage.models import Channel, Subscriber
from storage.repository import (
    accounts_exist,
    failing_channel_deliveries,
    failing_deliveries,
    list_channels,
    list_subscribers,
)
from tracker.desk.audit import ADMIN_TOKEN_ACTOR, record
from tracker.schemas import (
    ChannelDeliveryRecord,
    ChannelRecord,
    DeliveryRecord,
    SourceHealth,
    SubscriberRecord,
)
from tracker.settings import Config
from tracker.shapes import iso
from tracker.web.auth import Reader, form_csrf, form_csrf_valid, reader_of, secure_cookies, signing_key_of
from tracker.web.common import (
    first,
    forbidden,
    form_fields,
    get_config,
    get_session,
    key_for,
    not_found,
    page,
)
from tracker.web.queries import source_health
from tracker.web.security import (
    ADMIN_COOKIE,
    ADMIN_HELP,
    ADMIN_SESSION_MAX_AGE,
    CSRF_FIELD,
    client_address,
    csrf_token,
    csrf_valid,
    end_admin_session,
    require_admin_token,
    start_admin_session,
)

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/admin", tags=["admin"])
bearer = HTTPBearer(auto_error=False, description="The admin token: [web] admin_token or RULEWATCH_ADMIN_TOKEN.")

LOGIN_SUBJECT = "admin-login"
BAD_CSRF = "This form has expired or did not come from this site. Reload the page and try again."


def subscriber_json(subscriber: Subscriber) -> dict:
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "active": subscriber.active,
        "sources": list(subscriber.sources),
        "expectations": list(subscriber.expectations),
        "min_severity": subscriber.min_severity,
        "digest": subscriber.digest,
        "created_at": iso(subscriber.created_at),
        "last_digest_at": iso(subscriber.last_digest_at),
        "token_version": subscriber.token_version,
    }


def delivery_rows(session: Session) -> list[dict]:
    emails = {s.id: s.email for s in list_subscribers(session)}
    return [
        {
            "id": d.id,
            "event_id": d.event_id,
            "subscriber": emails.get(d.subscriber_id, ""),
            "cadence": d.cadence,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": iso(d.next_attempt_at),
            "last_error": d.last_error,
            "created_at": iso(d.created_at),
        }
        for d in failing_deliveries(session)
    ]


def channel_json(channel: Channel) -> dict:
    return {
        "name": channel.name,
        "scheme": channel.scheme,
        "active": channel.active,
        "sources": list(channel.sources),
        "expectations": list(channel.expectations),
        "min_severity": channel.min_severity,
        "created_at": iso(channel.created_at),
    }


def channel_delivery_rows(session: Session) -> list[dict]:
    channels = {c.id: c for c in list_channels(session)}
    rows = []
    for d in failing_channel_deliveries(session):
        channel = channels.get(d.channel_id)
        rows.append(
            {
                "id": d.id,
                "event_id": d.event_id,
                "channel": channel.name if channel else "",
                "scheme": channel.scheme if channel else "",
                "status": d.status,
                "attempts": d.attempts,
                "next_attempt_at": iso(d.next_attempt_at),
                "last_error": d.last_error,
                "created_at": iso(d.created_at),
            }
        )
    return rows


def revoke_links(session: Session, subscriber_id: int) -> Subscriber | None:
    """Every signed link given to this subscriber (unsubscribe, feed, subscription page) stops working."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        subscriber.token_version += 1
        session.commit()
    return subscriber


# -- pages ---------------------------------------------------------------------------------
# An admin is whoever holds the admin token (its login form's cookie, or the bearer header), or a
# signed-in account with the admin role. Forms carry CSRF tokens bound to that sign-in.


def _login_page(request: Request, key: str, status_code: int, error: str = ""):
    return page(request, "admin_login.html", status_code=status_code, error=error, csrf=csrf_token(key, LOGIN_SUBJECT))


def _admin_off(request: Request):
    return not_found(request, ADMIN_HELP, heading="Admin pages are off")


def _not_admin(request: Request, session: Session, config: Config, reader: Reader | None):
    """The answer to someone who is not an admin: what they lack, or how to sign in."""
    if reader is not None:
        return forbidden(request, "The admin pages are for admins.")
    if config.web.admin_token:
        return _login_page(request, signing_key_of(request, session, config), 401)
    if accounts_exist(session):
        return RedirectResponse("/login?next=/admin", status_code=303)
    return _admin_off(request)


@pages.get("/admin")
def admin_page(request: Request, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    reader = reader_of(request, session, config)
    if reader is None or not reader.is_admin:
        return _not_admin(request, session, config, reader)
    return page(
        request,
        "admin.html",
        sources=source_health(session, config, full_errors=True),
        subscribers=[subscriber_json(s) for s in list_subscribers(session)],
        deliveries=delivery_rows(session),
        channels=[channel_json(c) for c in list_channels(session)],
        channel_deliveries=channel_delivery_rows(session),
        csrf=form_csrf(request, session, config, reader),
        token_session=not reader.has_account,
    )


@pages.post("/admin/login")
def admin_login(
    request: Request,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    if not config.web.admin_token:
        return _admin_off(request)
    key = key_for(session, config)
    if not csrf_valid(key, LOGIN_SUBJECT, first(form, CSRF_FIELD)):
        return forbidden(request, BAD_CSRF)
    if not require_admin_token(session, request, first(form, "token"), config.web.admin_token):
        return _login_page(request, key, 403, error="That is not the admin token.")
    record(session, ADMIN_TOKEN_ACTOR, "sign_in", utcnow(), detail=f"from {client_address(request)}")
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        ADMIN_COOKIE,
        start_admin_session(session, key, config.web.admin_token),  # commits the audit entry with it
        max_age=ADMIN_SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, config),
    )
    return response


@pages.post("/admin/logout")
def admin_logout(
    request: Request,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    """Ends the admin token's session (an account signs out at /logout)."""
    if not config.web.admin_token:
        return _admin_off(request)
    reader = reader_of(request, session, config, bearer=False)
    if reader is None or reader.has_account:
        return RedirectResponse("/admin", status_code=303)
    if not form_csrf_valid(request, session, config, reader, first(form, CSRF_FIELD)):
        return forbidden(request, BAD_CSRF)
    key = signing_key_of(request, session, config)
    record(session, ADMIN_TOKEN_ACTOR, "sign_out", utcnow(), detail=f"from {client_address(request)}")
    end_admin_session(session, key, request.cookies.get(ADMIN_COOKIE))  # a copy of the cookie dies with it
    session.commit()
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(
        ADMIN_COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookies(request, config)
    )
    return response


@pages.post("/admin/subscribers/{subscriber_id:id}/revoke")
def admin_revoke(
    request: Request,
    subscriber_id: int,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    reader = reader_of(request, session, config)
    if reader is None or not reader.is_admin:
        return _not_admin(request, session, config, reader)
    if not form_csrf_valid(request, session, config, reader, first(form, CSRF_FIELD)):
        return forbidden(request, BAD_CSRF)
    if revoke_links(session, subscriber_id) is None:
        return not_found(request, f"There is no subscriber {subscriber_id}.")
    return RedirectResponse("/admin", status_code=303)


# -- API -----------------------------------------------------------------------------------


def require_admin(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
) -> None:
    if not config.web.admin_token:
        raise HTTPException(404, ADMIN_HELP)
    if credentials is None or not require_admin_token(
        session, request, credentials.credentials, config.web.admin_token
    ):
        raise HTTPException(
            401, "Send the admin token as Authorization: Bearer <token>.", headers={"WWW-Authenticate": "Bearer"}
        )


@api.get(
    "/sources",
    dependencies=[Depends(require_admin)],
    response_model=list[SourceHealth],
    response_model_exclude_unset=True,
)
def admin_sources(session: Session = Depends(get_session), config: Config = Depends(get_config)) -> list[dict]:
    """Every source's health, with the full text of its last error."""
    return source_health(session, config, full_errors=True)


@api.get(
    "/subscribers",
    dependencies=[Depends(require_admin)],
    response_model=list[SubscriberRecord],
    response_model_exclude_unset=True,
)
def admin_subscribers(session: Session = Depends(get_session)) -> list[dict]:
    """Every subscriber, active or not."""
    return [subscriber_json(s) for s in list_subscribers(session)]


@api.get(
    "/deliveries",
    dependencies=[Depends(require_admin)],
    response_model=list[DeliveryRecord],
    response_model_exclude_unset=True,
)
def admin_deliveries(session: Session = Depends(get_session)) -> list[dict]:
    """Deliveries that failed for good, or failed and wait for a retry; newest first."""
    return delivery_rows(session)


@api.get(
    "/channels",
    dependencies=[Depends(require_admin)],
    response_model=list[ChannelRecord],
    response_model_exclude_unset=True,
)
def admin_channels(session: Session = Depends(get_session)) -> list[dict]:
    """Every channel, configured or no longer: its name and scheme, never its URL."""
    return [channel_json(c) for c in list_channels(session)]


@api.get(
    "/channel-deliveries",
    dependencies=[Depends(require_admin)],
    response_model=list[ChannelDeliveryRecord],
    response_model_exclude_unset=True,
)
def admin_channel_deliveries(session: Session = Depends(get_session)) -> list[dict]:
    """Channel deliveries that failed for good, or failed and wait for a retry; newest first."""
    return channel_delivery_rows(session)


@api.post(
    "/subscribers/{subscriber_id:id}/revoke",
    dependencies=[Depends(require_admin)],
    response_model=SubscriberRecord,
    response_model_exclude_unset=True,
)
def admin_revoke_api(subscriber_id: int, session: Session = Depends(get_session)) -> dict:
    """Revoke every signed link given to a subscriber (unsubscribe, feed, subscription page)."""
    subscriber = revoke_links(session, subscriber_id)
    if subscriber is None:
        raise HTTPException(404, f"There is no subscriber {subscriber_id}.")
    return subscriber_json(subscriber)
