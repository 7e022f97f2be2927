"""Links made from fetched data are only ever http(s); anything else is shown as text."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from markupsafe import escape

from storage.db import session_scope, utcnow
from storage.models import Document, Event
from tests.support.history import GUIDANCE, build_history
from tracker.alerts.email import digest_message, event_message
from tracker.alerts.event_summary import summarize_event
from tracker.alerts.feeds import entry_html

HOSTILE_URLS = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "file:///etc/passwd",
]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src", "action", "formaction")]


def hrefs(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def test_only_http_links_in_alert_emails_and_feed_entries(database_url, tmp_path):
    history = build_history(database_url, tmp_path)
    links = {
        "sender": "alerts@rulewatch.test",
        "recipient": "a@example.com",
        "message_id": "<1@rulewatch.test>",
        "unsubscribe_url": "https://rulewatch.example/unsubscribe/t",
        "feed_url": "https://rulewatch.example/f",
        "manage_url": "https://rulewatch.example/subscription/t",
        "sent_at": utcnow(),
    }
    try:
        for url in HOSTILE_URLS:
            with session_scope(history.engine) as session:
                session.get(Document, history.documents[GUIDANCE]).url = url
                summary = summarize_event(session, history.config, session.get(Event, history.events["negation"]))
            bodies = {
                "event": event_message(summary, **links).get_body(("html",)).get_content(),
                "digest": digest_message([summary], cadence="daily", **links).get_body(("html",)).get_content(),
                "feed": entry_html(summary),
            }
            for name, body in bodies.items():
                for href in hrefs(body):
                    assert urlsplit(href).scheme in ("http", "https") and urlsplit(href).netloc, (url, name, href)
            assert str(escape(url)) in bodies["event"]  # still there for the reader, as text
    finally:
        history.engine.dispose()
