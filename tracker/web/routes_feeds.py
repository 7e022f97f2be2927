"""Atom and RSS feeds: all changes, one source, one document, one subscriber (secret URL)."""

from __future__ import annotations

from typing import TypeGuard

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from sqlmodel import Session

from tracker.alerts.feeds import FeedFormat, build_feed
from tracker.alerts.tokens import FEED, signing_key, subscriber_for_token
from tracker.settings import Config
from tracker.web.auth import reader_of
from tracker.web.common import get_config, get_session

router = APIRouter(prefix="/feeds", tags=["feeds"])

MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}


def _is_feed_format(fmt: str) -> TypeGuard[FeedFormat]:
    return fmt in MEDIA_TYPES


def _feed(request: Request, session: Session, config: Config, fmt: str, **scope) -> Response:
    """A feed; for a reader signed in to the app, with where each entry's review stands (and not
    to be kept by a shared cache)."""
    if not _is_feed_format(fmt):
        return _missing("feeds end in .atom or .rss")
    signed_in = reader_of(request, session, config, bearer=False) is not None
    try:
        body = build_feed(session, config, fmt, reviews=signed_in, **scope)
    except LookupError as exc:
        return _missing(str(exc))
    response = Response(body, media_type=MEDIA_TYPES[fmt])
    if signed_in:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _missing(message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=404)


@router.get("/changes.{fmt}")
def all_changes(
    request: Request, fmt: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    return _feed(request, session, config, fmt)


@router.get("/sources/{name}.{fmt}")
def source_changes(
    request: Request,
    name: str,
    fmt: str,
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    return _feed(request, session, config, fmt, source=name)


@router.get("/documents/{document_id:id}.{fmt}")
def document_changes(
    request: Request,
    document_id: int,
    fmt: str,
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    return _feed(request, session, config, fmt, document_id=document_id)


@router.get("/subscribers/{token}.{fmt}")
def subscriber_changes(
    request: Request,
    token: str,
    fmt: str,
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    key = signing_key(session, config.web.secret_key)
    subscriber = subscriber_for_token(session, key, token, FEED)
    if subscriber is None or not subscriber.active:
        return _missing("this feed link is no longer valid")
    return _feed(request, session, config, fmt, subscriber=subscriber)
