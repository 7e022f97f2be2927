"""Admin pages and API: sources with their full errors, subscribers, channels, failing deliveries.

Off until `[web] admin_token` (or RULEWATCH_ADMIN_TOKEN) is set; then the API
wants `Authorization: Bearer <token>`, and the page that header or the session
cookie its login form sets. Wrong tokens are counted per client address, and too
many give 429 (see tracker.web.security).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from storage.models import Channel, Subscriber
from storage.repository import failing_channel_deliveries, failing_deliveries, list_channels, list_subscribers
from tracker.schemas import (
    ChannelDeliveryRecord,
    ChannelRecord,
    DeliveryRecord,
    SourceHealth,
    SubscriberRecord,
)
from tracker.settings import Config
from tracker.shapes import iso
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
    admin_session_valid,
    bearer_token,
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
ADMIN_SUBJECT = "admin"
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


def _signed_in(request: Request, session: Session, key: str, config: Config) -> bool:
    admin_token = config.web.admin_token
    if admin_session_valid(session, key, admin_token, request.cookies.get(ADMIN_COOKIE)):
        return True
    given = bearer_token(request)
    return given is not None and require_admin_token(session, request, given, admin_token)


def _login_page(request: Request, key: str, status_code: int, error: str = ""):
    return page(request, "admin_login.html", status_code=status_code, error=error, csrf=csrf_token(key, LOGIN_SUBJECT))


def _admin_off(request: Request):
    return not_found(request, ADMIN_HELP, heading="Admin pages are off")


@pages.get("/admin")
def admin_page(request: Request, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    if not config.web.admin_token:
        return _admin_off(request)
    key = key_for(session, config)
    if not _signed_in(request, session, key, config):
        return _login_page(request, key, 401)
    return page(
        request,
        "admin.html",
        sources=source_health(session, config, full_errors=True),
        subscribers=[subscriber_json(s) for s in list_subscribers(session)],
        deliveries=delivery_rows(session),
        channels=[channel_json(c) for c in list_channels(session)],
        channel_deliveries=channel_delivery_rows(session),
        csrf=csrf_token(key, ADMIN_SUBJECT),
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
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        ADMIN_COOKIE,
        start_admin_session(session, key, config.web.admin_token),
        max_age=ADMIN_SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@pages.post("/admin/logout")
def admin_logout(
    request: Request,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    if not config.web.admin_token:
        return _admin_off(request)
    key = key_for(session, config)
    if not csrf_valid(key, ADMIN_SUBJECT, first(form, CSRF_FIELD)):
        return forbidden(request, BAD_CSRF)
    end_admin_session(session, key, request.cookies.get(ADMIN_COOKIE))  # a copy of the cookie dies with it
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@pages.post("/admin/subscribers/{subscriber_id:id}/revoke")
def admin_revoke(
    request: Request,
    subscriber_id: int,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    if not config.web.admin_token:
        return _admin_off(request)
    key = key_for(session, config)
    if not _signed_in(request, session, key, config):
        return _login_page(request, key, 401)
    if not csrf_valid(key, ADMIN_SUBJECT, first(form, CSRF_FIELD)):
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
