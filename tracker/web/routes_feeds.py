"""Atom and RSS feeds: all changes, one source, one document, one subscriber (secret URL)."""

from __future__ import annotations

from typing import TypeGuard

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response
from sqlmodel import Session

from tracker.alerts.feeds import FeedFormat, build_feed
from tracker.alerts.tokens import FEED, signing_key, subscriber_for_token
from tracker.settings import Config
from tracker.web.common import get_config, get_session

router = APIRouter(prefix="/feeds", tags=["feeds"])

MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}


def _is_feed_format(fmt: str) -> TypeGuard[FeedFormat]:
    return fmt in MEDIA_TYPES


def _feed(session: Session, config: Config, fmt: str, **scope) -> Response:
    if not _is_feed_format(fmt):
        return _missing("feeds end in .atom or .rss")
    try:
        body = build_feed(session, config, fmt, **scope)
    except LookupError as exc:
        return _missing(str(exc))
    return Response(body, media_type=MEDIA_TYPES[fmt])


def _missing(message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=404)


@router.get("/changes.{fmt}")
def all_changes(fmt: str, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    return _feed(session, config, fmt)


@router.get("/sources/{name}.{fmt}")
def source_changes(name: str, fmt: str, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    return _feed(session, config, fmt, source=name)


@router.get("/documents/{document_id:id}.{fmt}")
def document_changes(
    document_id: int, fmt: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    return _feed(session, config, fmt, document_id=document_id)


@router.get("/subscribers/{token}.{fmt}")
def subscriber_changes(
    token: str, fmt: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    key = signing_key(session, config.web.secret_key)
    subscriber = subscriber_for_token(session, key, token, FEED)
    if subscriber is None or not subscriber.active:
        return _missing("this feed link is no longer valid")
    return _feed(session, config, fmt, subscriber=subscriber)
