"""Atom and RSS feeds built from a history ingested through the real path, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser

import feedparser
import pytest
from sqlmodel import select

from storage.db import open_database, session_scope
from storage.models import Document, Event
from tests.support.history import (
    BASE_URL,
    EXPECTED,
    GUIDANCE,
    NEWCOMER,
    NOTICE,
    PRESS,
    SCRIPT,
    build_history,
    make_config,
    publish_expected,
)
from tracker.alerts.feeds import build_feed
from tracker.alerts.subscribers import upsert_subscriber
from tracker.alerts.tokens import FEED, make_token
from tracker.settings import SubscriberConfig

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"

EXPECTED_TITLES = [
    "Removed: New guidance on chips",
    "Minor change: Licensing notice",
    "New: New guidance on chips",
    f"Substantive change: Press release {SCRIPT}",
    "Substantive change: Guidance on Advanced Computing Integrated Circuits | Bureau of Industry and Security",
]


@pytest.fixture
def history(database_url, tmp_path):
    return build_history(database_url, tmp_path)


def feed(history, fmt="atom", **scope) -> bytes:
    with session_scope(history.engine) as session:
        return build_feed(session, history.config, fmt, **scope)


def parse(data: bytes):
    parsed = feedparser.parse(data, sanitize_html=False)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_all_changes_atom_has_the_expected_entries_newest_first(shared_history):
    parsed = parse(feed(shared_history))
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Rulewatch: all changes"
    assert [e.title for e in parsed.entries] == EXPECTED_TITLES  # no baseline, no cosmetic change
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links == {"self": f"{BASE_URL}/feeds/changes.atom", "alternate": f"{BASE_URL}/"}

    ev, docs = shared_history.events, shared_history.documents
    by_id = {e.id: e for e in parsed.entries}
    assert set(by_id) == {
        f"tag:rulewatch.example,2025:rulewatch/events/{ev[k]}"
        for k in ("removed", "minor", "new", "injected", "negation")
    }
    negation = by_id[f"tag:rulewatch.example,2025:rulewatch/events/{ev['negation']}"]
    assert negation.link == f"{BASE_URL}/documents/{docs[GUIDANCE]}/diff?from=2&to=3"
    assert {t.term for t in negation.tags} == {"changed", "source:bis", "severity:substantive"}
    assert negation.author == "bis"
    content = negation.content[0]
    assert content.type == "text/html"
    assert '<ins class="rl-ins">not </ins>' in content.value  # the redline excerpt itself
    assert "negation added" in content.value and "Severity: <strong>substantive</strong>" in content.value

    new = parsed.entries[2]
    assert new.link == f"{BASE_URL}/documents/{docs['https://www.bis.gov/press-release/newcomer']}/diff?to=1"
    assert "Exporters should read this guidance" in new.content[0].value  # the opening lines


def test_entry_times_are_the_detection_times(shared_history):
    parsed = parse(feed(shared_history))
    with session_scope(shared_history.engine) as session:
        detected = {e.id: e.detected_at for e in session.exec(select(Event))}
    for entry in parsed.entries:
        moment = detected[int(entry.id.rsplit("/", 1)[1])]
        assert datetime(*entry.updated_parsed[:6], tzinfo=UTC) == moment
        assert entry.published == entry.updated
    assert parsed.feed.updated == parsed.entries[0].updated


def test_output_and_ids_are_stable_across_runs(history):
    assert feed(history) == feed(history)
    assert feed(history, "rss") == feed(history, "rss")
    atom_ids = [e.id for e in parse(feed(history)).entries]
    rss_ids = [e.id for e in parse(feed(history, "rss")).entries]
    assert atom_ids == rss_ids
    # A later check adds entries (a new document, the expectation it meets); the ones before keep their ids.
    publish_expected(history)
    assert [e.id for e in parse(feed(history)).entries][2:] == atom_ids


def test_rss_feed(shared_history):
    data = feed(shared_history, "rss")
    parsed = parse(data)
    assert parsed.version == "rss20"
    assert [shown(e.title_detail) for e in parsed.entries] == EXPECTED_TITLES  # titles are HTML in RSS
    assert parsed.feed.link == f"{BASE_URL}/"
    minor = parsed.entries[1]
    assert minor.link == f"{BASE_URL}/documents/{shared_history.documents[NOTICE]}/diff?from=1&to=2"
    assert minor.guidislink is False
    assert minor.id == f"tag:rulewatch.example,2025:rulewatch/events/{shared_history.events['minor']}"
    assert minor.published_parsed is not None
    assert '<del class="rl-del">recieve</del><ins class="rl-ins">receive</ins>' in minor.content[0].value
    assert {t.term for t in minor.tags} == {"changed", "source: fr", "severity: minor"}


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_injected_markup_comes_out_escaped(shared_history, fmt):
    root = ET.fromstring(feed(shared_history, fmt))
    if fmt == "atom":
        entries = root.findall(f"{ATOM}entry")
        html_of = lambda e: e.find(f"{ATOM}content").text  # noqa: E731
        summary_of = lambda e: e.find(f"{ATOM}summary").text  # noqa: E731
        title_of = lambda e: e.find(f"{ATOM}title").text  # noqa: E731
    else:
        entries = root.findall("channel/item")
        html_of = lambda e: e.find(CONTENT_ENCODED).text  # noqa: E731
        summary_of = lambda e: e.find("description").text  # noqa: E731
        title_of = lambda e: e.find("title").text  # noqa: E731
    injected = entries[3]
    # Atom's title is plain text, as fetched; RSS's is HTML, so the markup is escaped in it.
    title = f"Substantive change: Press release {SCRIPT}"
    assert title_of(injected) == (title if fmt == "atom" else html.escape(title, quote=False))
    for body in (html_of(injected), summary_of(injected)):
        lowered = body.lower()
        assert "<script" not in lowered and "<img" not in lowered
    content = html_of(injected)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "alert(2)" not in content  # a real script element is never content
    for entry in entries:
        assert "<script" not in html_of(entry).lower()


def test_feed_of_one_source(shared_history):
    parsed = parse(feed(shared_history, source="fr"))
    assert [e.title for e in parsed.entries] == ["Minor change: Licensing notice"]
    assert parsed.feed.title == "Rulewatch: fr"
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == f"{BASE_URL}/feeds/sources/fr.atom"
    assert [e.title for e in parse(feed(shared_history, source="bis")).entries] == EXPECTED_TITLES[
        :1
    ] + EXPECTED_TITLES[2:]
    with pytest.raises(LookupError, match="nope"):
        feed(shared_history, source="nope")


def test_feed_of_one_document(shared_history):
    document_id = shared_history.documents[GUIDANCE]
    parsed = parse(feed(shared_history, "rss", document_id=document_id))
    # Its baseline and its cosmetic change are not news; the negation is.
    assert [e.title for e in parsed.entries] == [EXPECTED_TITLES[-1]]
    assert parsed.feed.link == f"{BASE_URL}/documents/{document_id}/diff"
    assert (
        parse(feed(shared_history, document_id=shared_history.documents[PRESS])).entries[0].title == EXPECTED_TITLES[3]
    )
    with pytest.raises(LookupError):
        feed(shared_history, document_id=9999)


def test_feed_of_one_subscriber(history):
    with session_scope(history.engine) as session:
        bis_only = upsert_subscriber(session, SubscriberConfig(email="legal@example.com", sources=("bis",)))
        everything = upsert_subscriber(session, SubscriberConfig(email="trade@example.org", min_severity="minor"))
        token = make_token("test-secret", bis_only, FEED)

    parsed = parse(feed(history, subscriber=bis_only))
    assert [e.title for e in parsed.entries] == EXPECTED_TITLES[:1] + EXPECTED_TITLES[2:]
    assert parsed.feed.title == "Rulewatch: your subscription"
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == f"{BASE_URL}/feeds/subscribers/{token}.atom"
    assert parsed.feed.id == f"tag:rulewatch.example,2025:rulewatch/feeds/subscribers/{bis_only.id}"

    rss_entries = parse(feed(history, "rss", subscriber=everything)).entries
    assert [shown(e.title_detail) for e in rss_entries] == EXPECTED_TITLES
    with session_scope(history.engine) as session:
        bis_only = upsert_subscriber(session, SubscriberConfig(email="legal@example.com", min_severity="substantive"))
    titles = [e.title for e in parse(feed(history, subscriber=bis_only)).entries]
    assert "Minor change: Licensing notice" not in titles and len(titles) == 4
    assert len(parse(feed(history, subscriber=everything, limit=2)).entries) == 2


def test_expectation_met_entry(history):
    event_id = publish_expected(history)
    entry = parse(feed(history)).entries[0]
    assert entry.title == "Published: GP10 guidance on Ascend chips"  # the newline folded away
    assert entry.id.endswith(f"/events/{event_id}")
    assert entry.link == f"{BASE_URL}/documents/{history.documents[EXPECTED]}/diff?to=1"
    assert {t.term for t in entry.tags} == {"expectation_met", "source:fr"}


def test_limit_keeps_the_newest(shared_history):
    parsed = parse(feed(shared_history, limit=2))
    assert [e.title for e in parsed.entries] == EXPECTED_TITLES[:2]


def test_an_empty_feed_is_valid_and_deterministic(database_url, tmp_path):
    config = make_config(database_url, tmp_path)
    engine = open_database(database_url)
    with session_scope(engine) as session:
        first = build_feed(session, config, "atom")
        assert first == build_feed(session, config, "atom")
        rss = build_feed(session, config, "rss")
    parsed = parse(first)
    assert parsed.entries == [] and parsed.feed.updated.startswith("1970-01-01")
    assert parse(rss).entries == []
    with pytest.raises(ValueError):
        with session_scope(engine) as session:
            build_feed(session, config, "json")


class _Shown(HTMLParser):
    """The text a reader shows for an HTML value: tags rendered away, references decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = ""

    def handle_data(self, data):
        self.text += data


def shown(detail) -> str:
    """What a feed reader displays for a parsed title: HTML is rendered, plain text is as is."""
    if detail.type in ("text/html", "application/xhtml+xml"):
        parser = _Shown()
        parser.feed(detail.value)
        parser.close()
        return parser.text
    return detail.value


TRICKY = {
    GUIDANCE: "<b>x</b>",
    PRESS: "AT&T",
    NOTICE: "&amp;",
    NEWCOMER: "<script>alert(1)</script> AT&amp;T &lt;i&gt;",
}


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_fetched_titles_show_literally_in_readers(history, fmt):
    with session_scope(history.engine) as session:
        for url, title in TRICKY.items():
            session.get(Document, history.documents[url]).title = title
    parsed = feedparser.parse(feed(history, fmt))  # with its default HTML sanitizing, as readers do
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [shown(e.title_detail) for e in parsed.entries] == [
        f"Removed: {TRICKY[NEWCOMER]}",
        f"Minor change: {TRICKY[NOTICE]}",
        f"New: {TRICKY[NEWCOMER]}",
        f"Substantive change: {TRICKY[PRESS]}",
        f"Substantive change: {TRICKY[GUIDANCE]}",
    ]
    for url, title in TRICKY.items():
        one = feedparser.parse(feed(history, fmt, document_id=history.documents[url]))
        assert shown(one.feed.title_detail) == f"Rulewatch: {title}"
