"""The web endpoints needed by emails and feeds: health, feeds, unsubscribe, redline, dashboard."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from storage.db import session_scope
from storage.models import Subscriber
from tests.support.history import GUIDANCE, PRESS, SCRIPT
from tests.tracker.web.helpers import CSP, active, assert_no_live_markup
from tracker.alerts.feeds import build_feed
from tracker.alerts.tokens import FEED, UNSUBSCRIBE, make_token
from tracker.web.app import create_app

ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"


def test_healthz(shared_client, shared_history, tmp_path):
    answer = shared_client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok" and answer.json()["database"] == "ok"
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    answer = TestClient(create_app(shared_history.config, broken)).get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unavailable"


def test_security_headers_on_every_response(shared_client, shared_history):
    for path in (
        "/",
        "/healthz",
        "/feeds/changes.atom",
        f"/documents/{shared_history.documents[GUIDANCE]}/diff",
        "/unsubscribe/forged",
        "/static/rulewatch.css",
    ):
        answer = shared_client.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-content-type-options"] == "nosniff", path


def test_feeds_are_served_with_their_content_types(shared_client, shared_history):
    answer = shared_client.get("/feeds/changes.atom")
    assert answer.status_code == 200 and answer.headers["content-type"] == ATOM_TYPE
    with session_scope(shared_history.engine) as session:
        assert answer.content == build_feed(session, shared_history.config, "atom")
    answer = shared_client.get("/feeds/changes.rss")
    assert answer.status_code == 200 and answer.headers["content-type"] == RSS_TYPE
    assert b"<rss" in answer.content

    assert shared_client.get("/feeds/sources/fr.atom").headers["content-type"] == ATOM_TYPE
    assert b"Licensing notice" in shared_client.get("/feeds/sources/fr.rss").content
    document_id = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/feeds/documents/{document_id}.rss")
    assert answer.status_code == 200 and answer.headers["content-type"] == RSS_TYPE

    for missing in (
        "/feeds/sources/nope.atom",
        "/feeds/documents/9999.atom",
        "/feeds/changes.json",
        "/feeds/sources/fr.json",
    ):
        assert shared_client.get(missing).status_code == 404, missing


def test_subscriber_feed_at_a_secret_url(client, history, subscriber):
    token = make_token("test-secret", subscriber, FEED)
    answer = client.get(f"/feeds/subscribers/{token}.atom")
    assert answer.status_code == 200 and answer.headers["content-type"] == ATOM_TYPE
    assert b"Licensing notice" not in answer.content  # fr is not followed
    assert b"Press release" in answer.content
    assert client.get(f"/feeds/subscribers/{token}.rss").headers["content-type"] == RSS_TYPE

    assert client.get(f"/feeds/subscribers/{token}x.atom").status_code == 404
    wrong_purpose = make_token("test-secret", subscriber, UNSUBSCRIBE)
    assert client.get(f"/feeds/subscribers/{wrong_purpose}.atom").status_code == 404
    assert client.get(f"/feeds/subscribers/{make_token('other-key', subscriber, FEED)}.atom").status_code == 404

    client.post(f"/unsubscribe/{make_token('test-secret', subscriber, UNSUBSCRIBE)}")
    assert client.get(f"/feeds/subscribers/{token}.atom").status_code == 404  # revoked


def test_unsubscribe_get_only_asks(client, history, subscriber):
    token = make_token("test-secret", subscriber, UNSUBSCRIBE)
    answer = client.get(f"/unsubscribe/{token}")
    assert answer.status_code == 200
    assert "text/html" in answer.headers["content-type"]
    assert "legal@example.com" in answer.text
    assert '<form method="post">' in answer.text and "<button" in answer.text
    assert "<script" not in answer.text.lower()
    assert active(history, subscriber.id)


def test_one_click_unsubscribe(client, history, subscriber):
    token = make_token("test-secret", subscriber, UNSUBSCRIBE)
    answer = client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert "legal@example.com" in answer.text and "no more email" in answer.text
    assert not active(history, subscriber.id)

    # The link is spent: it now says so, and posting it again changes nothing.
    again = client.get(f"/unsubscribe/{token}")
    assert again.status_code == 404 and "no longer valid" in again.text
    assert client.post(f"/unsubscribe/{token}").status_code == 404
    assert not active(history, subscriber.id)


def test_unsubscribe_button_from_the_confirm_page(client, history, subscriber):
    token = make_token("test-secret", subscriber, UNSUBSCRIBE)
    client.get(f"/unsubscribe/{token}")
    assert client.post(f"/unsubscribe/{token}", data={}).status_code == 200
    assert not active(history, subscriber.id)


def test_forged_and_revoked_unsubscribe_links(client, history, subscriber):
    for token in (
        "forged",
        make_token("other-key", subscriber, UNSUBSCRIBE),
        make_token("test-secret", subscriber, FEED),
    ):
        for method in (client.get, client.post):
            answer = method(f"/unsubscribe/{token}")
            assert answer.status_code == 404
            assert "no longer valid" in answer.text
    assert active(history, subscriber.id)

    old = make_token("test-secret", subscriber, UNSUBSCRIBE)
    with session_scope(history.engine) as session:
        session.get(Subscriber, subscriber.id).token_version += 1  # every link given out so far revoked
    assert client.post(f"/unsubscribe/{old}").status_code == 404
    assert active(history, subscriber.id)


def test_diff_page_defaults_to_the_last_two_versions(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/documents/{document_id}/diff")
    assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
    assert '<ins class="rl-ins">not </ins>' in answer.text
    assert "Version 2" in answer.text and "Version 3" in answer.text
    assert "Severity: substantive" in answer.text
    assert shared_client.get(f"/documents/{document_id}/diff?from=&to=").text == answer.text
    assert shared_client.get(f"/documents/{document_id}/diff?from=2&to=3").text == answer.text

    first = shared_client.get(f"/documents/{document_id}/diff?to=1")
    assert first.status_code == 200 and "<ins" in first.text and "<del" not in first.text
    older = shared_client.get(f"/documents/{document_id}/diff?from=3&to=1")
    assert older.status_code == 200 and "<del" in older.text


def test_diff_page_escapes_fetched_text(shared_client, shared_history):
    answer = shared_client.get(f"/documents/{shared_history.documents[PRESS]}/diff?from=1&to=2")
    assert answer.status_code == 200
    assert_no_live_markup(answer.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in answer.text
    assert '<ins class="rl-ins">not </ins>' in answer.text


def test_diff_page_not_found(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    for path in (
        "/documents/9999/diff",
        f"/documents/{document_id}/diff?to=9",
        f"/documents/{document_id}/diff?from=abc",
        "/documents/abc/diff",
    ):
        assert shared_client.get(path).status_code == 404, path


def test_dashboard_lists_recent_events_escaped(shared_client, shared_history):
    answer = shared_client.get("/")
    assert answer.status_code == 200
    assert_no_live_markup(answer.text)
    assert "Press release &lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert SCRIPT not in answer.text
    assert 'href="/feeds/changes.atom"' in answer.text and 'href="/feeds/sources/fr.rss"' in answer.text
    negation = shared_history.documents[GUIDANCE]
    assert f'href="/documents/{negation}/diff?from=2&amp;to=3"' in answer.text
