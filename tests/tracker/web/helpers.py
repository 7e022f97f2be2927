"""Shared checks for the web tests."""

from __future__ import annotations

from html.parser import HTMLParser

from storage.db import session_scope
from storage.models import Subscriber

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"
)
# The one script of the app, in the head of the redline page: the page's own file, never fetched text.
OWN_SCRIPT = '<script src="/static/rulewatch-changes.js" defer></script>'
ADMIN_TOKEN = "admin-token-for-tests"
LIVE_TAGS = {"script", "img", "iframe", "object", "embed", "svg", "math", "base", "meta-refresh"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [(tag, name) for name, _ in attrs if name.lower().startswith("on")]


def assert_no_live_markup(body: str) -> None:
    """No tag that runs or loads anything, and no event-handler attribute, anywhere in the page
    but the app's own script in its head."""
    head, end, rest = body.partition("</head>")
    body = head.replace(OWN_SCRIPT, "", 1) + end + rest
    lowered = body.lower()
    assert "<script" not in lowered and "<img" not in lowered
    parser = _Tags()
    parser.feed(body)
    assert not LIVE_TAGS & set(parser.tags), parser.tags
    assert not parser.handlers, parser.handlers


def active(history, subscriber_id: int) -> bool:
    with session_scope(history.engine) as session:
        return session.get(Subscriber, subscriber_id).active


def token_version(history, subscriber_id: int) -> int:
    with session_scope(history.engine) as session:
        return session.get(Subscriber, subscriber_id).token_version
