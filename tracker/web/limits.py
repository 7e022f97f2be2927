"""Request bodies are limited while they stream in, before any route runs.

Nothing in this app takes uploads: its forms are a few fields, and the one API route
that reads a body (a review action, a status and a note) is as small. So the whole body of a request is read here, up to its limit, before the app
sees it: a Content-Length over the limit is refused from the headers alone, and a
chunked body is counted as it arrives and refused (413) as soon as it passes the limit,
without reading the rest. The server then closes the connection; memory never holds
more than one limit's worth of a body.

Time is limited too (Uvicorn has no timeout while a body arrives): a body that goes
BODY_CHUNK_TIMEOUT seconds without a byte (slowloris) is answered 408 and the
connection closed, so a slow client cannot hold a request open.
"""

from __future__ import annotations

import re

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.web.common import message
from tracker.web.security import SECURITY_HEADERS

MAX_FORM_BYTES = 64 * 1024  # an HTML form posted to a page, or a review action posted to the API
MAX_OTHER_BYTES = 4 * 1024  # everything else: no other route reads a body
BODY_CHUNK_TIMEOUT = 30.0  # seconds a body may go without a byte arriving
_REVIEW_API = re.compile(r"/api/events/[0-9]+/review")
TOO_LARGE = "The request body is too large (at most {limit} bytes here)."
TOO_SLOW = "The request body arrived too slowly (nothing for {timeout:g} seconds); send it again."


def body_limit(scope: Scope) -> int:
    path = scope["path"]
    if scope["method"] == "POST" and (not path.startswith("/api/") or _REVIEW_API.fullmatch(path)):
        return MAX_FORM_BYTES
    return MAX_OTHER_BYTES


class BodyLimit:
    """Pure ASGI middleware: reads at most `body_limit` bytes of a body, then hands the app what it read."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, 413, "Request too large", TOO_LARGE.format(limit=limit))
            return
        body, size = [], 0
        while True:
            message = None
            with anyio.move_on_after(BODY_CHUNK_TIMEOUT):
                message = await receive()
            if message is None:
                text = TOO_SLOW.format(timeout=BODY_CHUNK_TIMEOUT)
                await _refuse(scope, receive, send, 408, "Request timeout", text)
                return
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([], message, receive), send)
                return
            size += len(message.get("body", b""))
            if size > limit:
                await _refuse(scope, receive, send, 413, "Request too large", TOO_LARGE.format(limit=limit))
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(body), "more_body": False}
        await self.app(scope, _replay([whole], None, receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the server (h11, httptools) refuses these before we see them
                return None
    return None


def _replay(messages: list[Message], last: Message | None, receive: Receive) -> Receive:
    """A receive() that gives the body read so far, then whatever the client sends next (a disconnect)."""
    pending = messages + ([last] if last else [])

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, heading: str, text: str) -> None:
    """Answer without reading the rest of the body, and close the connection."""
    request = Request(scope)
    response: Response
    if scope["path"].startswith("/api/"):
        response = JSONResponse({"detail": text}, status_code=status)
    else:
        response = message(request, status, heading, text)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
