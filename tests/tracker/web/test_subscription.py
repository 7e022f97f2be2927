"""The subscription page: a signed, expiring "manage" link; forms that need a CSRF token."""

from __future__ import annotations

import re
import time

from storage.db import session_scope
from storage.models import Subscriber
from tests.tracker.web.helpers import active, token_version
from tracker.alerts.tokens import (
    FEED,
    MANAGE_MAX_AGE,
    UNSUBSCRIBE,
    make_manage_token,
    make_token,
    subscriber_for_manage_token,
)
from tracker.web.security import csrf_token

KEY = "test-secret"  # [web] secret_key of the test history


def manage_link(subscriber, now: float | None = None) -> str:
    return f"/subscription/{make_manage_token(KEY, subscriber, now=now)}"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def stored(history, subscriber_id: int) -> Subscriber:
    with session_scope(history.engine) as session:
        return session.get(Subscriber, subscriber_id)


def test_manage_page_shows_the_subscription(client, history, subscriber):
    answer = client.get(manage_link(subscriber))
    assert answer.status_code == 200
    text = answer.text
    assert "legal@example.com" in text
    assert '<input type="checkbox" name="sources" value="bis" checked>' in text
    assert '<input type="checkbox" name="sources" value="fr">' in text
    assert '<input type="checkbox" name="expectations" value="gp10">' in text
    assert '<input type="radio" name="min_severity" value="substantive" checked>' in text
    assert '<input type="radio" name="digest" value="off" checked>' in text
    assert text.count('<input type="hidden" name="csrf_token"') == 2  # save, and unsubscribe
    assert '<form method="post"' in text


def test_saving_with_a_good_csrf_token(client, history, subscriber):
    link = manage_link(subscriber)
    form = {
        "csrf_token": csrf_of(client.get(link).text),
        "sources": ["bis", "fr"],
        "expectations": ["gp10"],
        "min_severity": "minor",
        "digest": "weekly",
    }
    answer = client.post(link, data=form)
    assert answer.status_code == 200 and "Saved." in answer.text
    row = stored(history, subscriber.id)
    assert row.sources == ["bis", "fr"] and row.expectations == ["gp10"]
    assert (row.min_severity, row.digest) == ("minor", "weekly")
    assert '<input type="radio" name="digest" value="weekly" checked>' in answer.text

    # No box checked: every source, every expectation.
    form = {"csrf_token": csrf_of(answer.text), "min_severity": "substantive", "digest": "off"}
    assert client.post(link, data=form).status_code == 200
    row = stored(history, subscriber.id)
    assert row.sources == [] and row.expectations == []
    assert row.active and row.token_version == subscriber.token_version  # the link still works
    assert client.get(link).status_code == 200


def test_saving_without_or_with_a_bad_csrf_token_is_refused(client, history, subscriber):
    link = manage_link(subscriber)
    form = {"sources": ["fr"], "min_severity": "minor", "digest": "daily"}
    other = make_token(KEY, subscriber, FEED)
    for token in (
        None,
        "",
        "forged",
        other,
        csrf_token("other-key", f"manage:{subscriber.id}:1"),
        csrf_token(KEY, f"manage:{subscriber.id + 1}:1"),
        csrf_token(KEY, "admin"),
    ):
        data = dict(form) if token is None else {**form, "csrf_token": token}
        answer = client.post(link, data=data)
        assert answer.status_code == 403, token
        assert "did not come from this site" in answer.text
        answer = client.post(link + "/unsubscribe", data=data)
        assert answer.status_code == 403, token
    row = stored(history, subscriber.id)
    assert row.sources == ["bis"] and row.digest == "off" and row.active


def test_an_expired_csrf_token_is_refused(client, history, subscriber, monkeypatch):
    link = manage_link(subscriber)
    token = csrf_of(client.get(link).text)
    later = time.time() + 13 * 3600  # forms last 12 hours
    monkeypatch.setattr(time, "time", lambda: later)
    answer = client.post(link, data={"csrf_token": token, "min_severity": "minor", "digest": "off"})
    assert answer.status_code == 403


def test_invalid_choices_are_refused(client, history, subscriber):
    link = manage_link(subscriber)
    token = csrf_of(client.get(link).text)
    for form, words in (
        ({"sources": ["nope"], "min_severity": "minor", "digest": "off"}, "Unknown source or expectation: nope"),
        ({"min_severity": "cosmetic", "digest": "off"}, "min_severity must be minor or substantive"),
        ({"min_severity": "minor", "digest": "hourly"}, "digest must be off, daily or weekly"),
    ):
        answer = client.post(link, data={"csrf_token": token, **form})
        assert answer.status_code == 400 and words in answer.text, answer.text
    assert stored(history, subscriber.id).min_severity == "substantive"


def test_unsubscribe_from_the_page_revokes_the_link(client, history, subscriber):
    link = manage_link(subscriber)
    answer = client.post(link + "/unsubscribe", data={"csrf_token": csrf_of(client.get(link).text)})
    assert answer.status_code == 200 and "no more email" in answer.text
    assert not active(history, subscriber.id)
    again = client.get(link)
    assert again.status_code == 404 and "no longer valid" in again.text


def test_manage_links_expire(client, history, subscriber):
    month_ago = time.time() - MANAGE_MAX_AGE - 60
    old = manage_link(subscriber, now=month_ago)
    answer = client.get(old)
    assert answer.status_code == 404 and "expired" in answer.text
    assert client.post(old, data={"min_severity": "minor", "digest": "off"}).status_code == 404
    fresh_enough = manage_link(subscriber, now=time.time() - MANAGE_MAX_AGE + 3600)
    assert client.get(fresh_enough).status_code == 200

    token = make_manage_token(KEY, subscriber)
    with session_scope(history.engine) as session:
        assert subscriber_for_manage_token(session, KEY, token, max_age=-1) is None
        assert subscriber_for_manage_token(session, KEY, token, now=time.time() + MANAGE_MAX_AGE + 1) is None
        assert subscriber_for_manage_token(session, KEY, token).id == subscriber.id


def test_manage_links_can_be_revoked_and_are_not_other_links(client, history, subscriber):
    link = manage_link(subscriber)
    for token in (
        "forged",
        make_token(KEY, subscriber, UNSUBSCRIBE),
        make_token(KEY, subscriber, FEED),
        make_manage_token("other-key", subscriber),
    ):
        assert client.get(f"/subscription/{token}").status_code == 404
    # a manage token is no unsubscribe or feed token either
    manage = make_manage_token(KEY, subscriber)
    assert client.post(f"/unsubscribe/{manage}").status_code == 404
    assert client.get(f"/feeds/subscribers/{manage}.atom").status_code == 404
    assert active(history, subscriber.id)

    with session_scope(history.engine) as session:
        session.get(Subscriber, subscriber.id).token_version += 1
    assert client.get(link).status_code == 404
    assert token_version(history, subscriber.id) == subscriber.token_version + 1


def test_one_click_unsubscribe_needs_no_csrf_token(client, history, subscriber):
    """RFC 8058: the signed link is the credential; the mail provider's POST carries no form token."""
    answer = client.post(
        f"/unsubscribe/{make_token(KEY, subscriber, UNSUBSCRIBE)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200 and not active(history, subscriber.id)


def test_forms_must_be_url_encoded_and_posted(client, history, subscriber):
    link = manage_link(subscriber)
    answer = client.post(link, content=b'{"digest": "weekly"}', headers={"Content-Type": "application/json"})
    assert answer.status_code == 415 and "x-www-form-urlencoded" in answer.text
    answer = client.put(link)
    assert answer.status_code == 405 and "text/html" in answer.headers["content-type"]
    assert stored(history, subscriber.id).digest == "off"
