"""Unsubscribe links from emails: GET asks, POST does (also RFC 8058 one-click).

The signed token in the path is the credential, so the POST needs no form
field: a mail provider's one-click POST (body `List-Unsubscribe=One-Click`)
and the button on the confirm page work the same way. Link scanners that
prefetch every GET never unsubscribe anyone. Unsubscribing revokes the token,
so a used link answers 404 afterwards; posting it again changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from tracker.alerts.subscribers import deactivate
from tracker.alerts.tokens import UNSUBSCRIBE, signing_key, subscriber_for_token
from tracker.config import Config
from tracker.web.common import get_config, get_session, not_found, page

router = APIRouter(tags=["subscriptions"])

INVALID = (
    "This unsubscribe link is no longer valid: it has already been used, or it was revoked. "
    "If you still get email from Rulewatch, use the link in the latest message."
)


@router.get("/unsubscribe/{token}")
def confirm_unsubscribe(
    request: Request, token: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    subscriber = subscriber_for_token(session, signing_key(session, config.web.secret_key), token, UNSUBSCRIBE)
    if subscriber is None:
        return not_found(request, INVALID, heading="Link no longer valid")
    if not subscriber.active:
        return page(request, "unsubscribe_done.html", email=subscriber.email)
    return page(request, "unsubscribe_confirm.html", email=subscriber.email)


@router.post("/unsubscribe/{token}")
def unsubscribe(
    request: Request, token: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    subscriber = subscriber_for_token(session, signing_key(session, config.web.secret_key), token, UNSUBSCRIBE)
    if subscriber is None:
        return not_found(request, INVALID, heading="Link no longer valid")
    email = subscriber.email
    if subscriber.active:
        deactivate(session, email)
        session.commit()  # stored before the page says it is done
    return page(request, "unsubscribe_done.html", email=email)
