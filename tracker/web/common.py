"""What every route module shares: the per-request session, the config, page rendering, forms."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session
from starlette.convertors import Convertor, register_url_convertor

from storage.db import session_scope
from tracker.alerts.tokens import signing_key
from tracker.settings import Config
from tracker.web.render import environment
from tracker.web.security import CSRF_FIELD


class RowIdConvertor(Convertor[int]):
    """`{name:id}` in a route path: an id or version number that fits the database's INTEGER.
    A longer one matches no route (404), where `:int` would pass it on to overflow the
    database driver (500)."""

    regex = "0*[0-9]{1,9}"  # at most 9 digits after leading zeros: always below MAX_ROW_ID (2**31 - 1)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", RowIdConvertor())


def get_session(request: Request) -> Iterator[Session]:
    """One session (one transaction) per request. Routes that write commit themselves,
    so that what they report has been stored before the response goes out."""
    with session_scope(request.app.state.engine) as session:
        yield session


def get_config(request: Request) -> Config:
    return request.app.state.config


def key_for(session: Session, config: Config) -> str:
    """The key that signs links, CSRF tokens and the admin cookie."""
    return signing_key(session, config.web.secret_key)


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page from tracker/web/templates; autoescape is on for every value. The header names who
    is signed in (found by the sign-in gate, tracker.web.auth) and offers to sign out."""
    body = environment.get_template(template).render(
        request=request,
        csrf_field=CSRF_FIELD,
        signed_in=getattr(request.state, "reader", None),
        signout_csrf=getattr(request.state, "signout_csrf", ""),
        **context,
    )
    return HTMLResponse(body, status_code=status_code)


def message(request: Request, status_code: int, heading: str, text: str) -> HTMLResponse:
    return page(request, "message.html", status_code=status_code, heading=heading, message=text)


def not_found(request: Request, text: str, heading: str = "Not found") -> HTMLResponse:
    return message(request, 404, heading, text)


def bad_request(request: Request, text: str) -> HTMLResponse:
    return message(request, 400, "Bad request", text)


def forbidden(request: Request, text: str) -> HTMLResponse:
    return message(request, 403, "Forbidden", text)


async def form_fields(request: Request) -> dict[str, list[str]]:
    """A POSTed form (application/x-www-form-urlencoded, what HTML forms send) as {name: [values]}.
    Its size was checked as it arrived (tracker.web.limits)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "Send the form as application/x-www-form-urlencoded.")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]
