"""What every route module shares: the per-request session, the config, page rendering."""

from __future__ import annotations

from typing import Iterator

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from storage.db import session_scope
from tracker.config import Config
from tracker.web.render import environment


def get_session(request: Request) -> Iterator[Session]:
    """One session (one transaction) per request. Routes that write commit themselves,
    so that what they report has been stored before the response goes out."""
    with session_scope(request.app.state.engine) as session:
        yield session


def get_config(request: Request) -> Config:
    return request.app.state.config


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page from tracker/web/templates; autoescape is on for every value."""
    body = environment.get_template(template).render(request=request, **context)
    return HTMLResponse(body, status_code=status_code)


def not_found(request: Request, message: str, heading: str = "Not found") -> HTMLResponse:
    return page(request, "message.html", status_code=404, heading=heading, message=message)
