"""A subscriber's own pages: unsubscribe links from emails, and the subscription page.

Unsubscribe links: GET asks, POST does (also RFC 8058 one-click). The signed
token in the path is the credential, so that POST needs no form field: a mail
provider's one-click POST (body `List-Unsubscribe=One-Click`) and the button on
the confirm page work the same way. Link scanners that prefetch every GET never
unsubscribe anyone. Unsubscribing revokes the token, so a used link answers 404
afterwards; posting it again changes nothing.

The subscription page (/subscription/{token}, a signed "manage" link that
expires) shows what the subscriber follows and lets them change it or
unsubscribe. Its forms carry a CSRF token bound to the subscriber and their
token version.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from storage.models import Subscriber
from tracker.alerts.subscribers import (
    SubscriberError,
    deactivate,
    upsert_subscriber,
)
from tracker.alerts.tokens import (
    UNSUBSCRIBE,
    subscriber_for_manage_token,
    subscriber_for_token,
)
from tracker.config import DIGESTS, normalize_email
from tracker.settings import Config, SubscriberConfig
from tracker.web.common import (
    bad_request,
    first,
    forbidden,
    form_fields,
    get_config,
    get_session,
    key_for,
    not_found,
    page,
)
from tracker.web.security import CSRF_FIELD, csrf_token, csrf_valid

router = APIRouter(tags=["subscriptions"], include_in_schema=False)

INVALID = (
    "This unsubscribe link is no longer valid: it has already been used, or it was revoked. "
    "If you still get email from Rulewatch, use the link in the latest message."
)
MANAGE_INVALID = (
    "This subscription link is no longer valid: it has expired, or it was revoked. "
    "Use the link in your latest Rulewatch email."
)
BAD_CSRF = "This form has expired or did not come from this site. Reload the page and try again."
MIN_SEVERITIES = ("substantive", "minor")


@router.get("/unsubscribe/{token}")
def confirm_unsubscribe(
    request: Request, token: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    subscriber = subscriber_for_token(session, key_for(session, config), token, UNSUBSCRIBE)
    if subscriber is None:
        return not_found(request, INVALID, heading="Link no longer valid")
    if not subscriber.active:
        return page(request, "unsubscribe_done.html", email=subscriber.email)
    return page(request, "unsubscribe_confirm.html", email=subscriber.email)


@router.post("/unsubscribe/{token}")
def unsubscribe(
    request: Request, token: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    subscriber = subscriber_for_token(session, key_for(session, config), token, UNSUBSCRIBE)
    if subscriber is None:
        return not_found(request, INVALID, heading="Link no longer valid")
    email = subscriber.email
    if subscriber.active:
        deactivate(session, email)
        session.commit()  # stored before the page says it is done
    return page(request, "unsubscribe_done.html", email=email)


# -- the subscription page ---------------------------------------------------------------


def _csrf_subject(subscriber: Subscriber) -> str:
    return f"manage:{subscriber.id}:{subscriber.token_version}"


def _choices(config: Config, subscriber: Subscriber) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(name, label) of the sources and of the expectations one can follow: configured ones,
    and any the subscriber still follows that the configuration no longer has."""
    sources = {source.name: source.name for source in config.sources}
    expectations = {e.name: e.title or e.name for e in config.expectations}
    for name in subscriber.sources:
        sources.setdefault(name, name)
    for name in subscriber.expectations:
        expectations.setdefault(name, name)
    return sorted(sources.items()), sorted(expectations.items())


def _manage_page(
    request: Request,
    config: Config,
    key: str,
    subscriber: Subscriber,
    token: str,
    saved: bool = False,
    status_code: int = 200,
):
    sources, expectations = _choices(config, subscriber)
    in_config = any(normalize_email(s.email) == subscriber.email for s in config.subscribers)
    return page(
        request,
        "subscription.html",
        status_code=status_code,
        subscriber=subscriber,
        token=token,
        csrf=csrf_token(key, _csrf_subject(subscriber)),
        sources=sources,
        expectations=expectations,
        followed_sources=set(subscriber.sources),
        followed_expectations=set(subscriber.expectations),
        min_severities=MIN_SEVERITIES,
        digests=DIGESTS,
        saved=saved,
        in_config=in_config,
    )


@router.get("/subscription/{token}")
def subscription(
    request: Request, token: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    key = key_for(session, config)
    subscriber = subscriber_for_manage_token(session, key, token)
    if subscriber is None:
        return not_found(request, MANAGE_INVALID, heading="Link no longer valid")
    return _manage_page(request, config, key, subscriber, token)


def _posting_subscriber(request: Request, key: str, token: str, form: dict, session: Session):
    """The subscriber a manage link names, if the form came from their own page; else the refusal page."""
    subscriber = subscriber_for_manage_token(session, key, token)
    if subscriber is None:
        return None, not_found(request, MANAGE_INVALID, heading="Link no longer valid")
    if not csrf_valid(key, _csrf_subject(subscriber), first(form, CSRF_FIELD)):
        return None, forbidden(request, BAD_CSRF)
    return subscriber, None


@router.post("/subscription/{token}")
def save_subscription(
    request: Request,
    token: str,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    key = key_for(session, config)
    subscriber, refusal = _posting_subscriber(request, key, token, form, session)
    if refusal is not None:
        return refusal
    sources, expectations = _choices(config, subscriber)
    wanted_sources = form.get("sources", [])
    wanted_expectations = form.get("expectations", [])
    unknown = [n for n in wanted_sources if n not in dict(sources)]
    unknown += [n for n in wanted_expectations if n not in dict(expectations)]
    if unknown:
        return bad_request(request, f"Unknown source or expectation: {', '.join(unknown)}.")
    try:
        upsert_subscriber(
            session,
            SubscriberConfig(
                email=subscriber.email,
                sources=tuple(wanted_sources),
                expectations=tuple(wanted_expectations),
                min_severity=first(form, "min_severity"),
                digest=first(form, "digest"),
            ),
        )
    except SubscriberError as exc:
        return bad_request(request, f"{exc}.")
    session.commit()  # stored before the page says it is
    return _manage_page(request, config, key, subscriber, token, saved=True)


@router.post("/subscription/{token}/unsubscribe")
def unsubscribe_from_page(
    request: Request,
    token: str,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    key = key_for(session, config)
    subscriber, refusal = _posting_subscriber(request, key, token, form, session)
    if refusal is not None:
        return refusal
    email = subscriber.email
    deactivate(session, email)  # also revokes this link and every other one given out
    session.commit()
    return page(request, "unsubscribe_done.html", email=email)
