"""The review desk in the web app, on SQLite and PostgreSQL: the sign-in gate, sessions, CSRF,
sign-in limits, roles, the review form and API, feeds for signed-in readers, the audit log."""

from __future__ import annotations

import threading
from dataclasses import replace
from urllib.parse import quote

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from storage.db import session_scope, utcnow
from storage.models import AuditEntry, Event, SignInLink
from tests.support.accounts import PASSWORD, HeldChecks, csrf_of, make_account, sign_in
from tests.tracker.web.helpers import ADMIN_TOKEN, assert_no_live_markup
from tracker.alerts.event_summary import diff_url
from tracker.desk.accounts import ACCOUNT_LIMIT, CHECKS_AT_ONCE, CLIENT_LIMIT, add_user
from tracker.web.app import create_app

VIEWER, REVIEWER, ADMIN = "viewer@example.com", "reviewer@example.com", "admin@example.com"
HOSTILE_NOTE = "Checked <script>alert(1)</script> & filed"


def browser(history, config=None, **kwargs) -> TestClient:
    """A client on https, as the history's base_url is: its Secure cookies are sent back."""
    return TestClient(create_app(config or history.config, history.engine), base_url="https://testserver", **kwargs)


@pytest.fixture
def desk(history):
    """The app once accounts exist: one of each role, passwords set through their links."""
    for email, role in ((VIEWER, "viewer"), (REVIEWER, "reviewer"), (ADMIN, "admin")):
        make_account(history.engine, email, role)
    return history


def redline_of(history, label: str) -> str:
    with session_scope(history.engine) as session:
        return diff_url("", session.get(Event, history.events[label]))


def audit_rows(history) -> list[tuple]:
    with session_scope(history.engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action == "review").order_by(AuditEntry.id))
        return [(r.actor, r.event_id, r.from_status, r.to_status, r.note) for r in rows]


def review_of(client, event_id: int) -> dict:
    [row] = [e for e in client.get("/api/changes").json() if e["id"] == event_id]
    return row["review"]


# -- with no account, nothing changes ---------------------------------------------------------------


def test_without_accounts_the_app_stays_open(history):
    client = browser(history)
    for path in ("/", "/changes", "/review", redline_of(history, "negation"), "/api/changes", "/docs"):
        assert client.get(path, follow_redirects=False).status_code == 200, path
    redline = client.get(redline_of(history, "negation")).text
    assert 'Status: <strong class="review-new">new</strong>' in redline
    assert 'action="/review/' not in redline  # nobody signed in may review
    login = client.get("/login").text
    assert "No account exists yet" in login and "rulewatch users add EMAIL" in login
    event = history.events["negation"]
    answer = client.post(f"/api/events/{event}/review", json={"status": "reviewed"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert client.get("/admin/audit", follow_redirects=False).headers["location"] == "/login?next=/admin/audit"


# -- once one exists, pages need a sign-in ----------------------------------------------------------------


def test_once_an_account_exists_every_page_but_feeds_and_links_needs_a_sign_in(history):
    with session_scope(history.engine) as session:
        add_user(session, VIEWER, "viewer", "command line")  # no password yet: an account all the same
    client = browser(history)
    redline = redline_of(history, "negation")
    for path in ("/", "/documents", "/changes", "/review", redline, "/docs", "/openapi.json", "/admin"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login?next=" + quote(path, safe="/"), path
    for path in ("/api/changes", "/api/documents", "/api/admin/sources"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", path
        assert "Sign in at /login" in answer.json()["detail"]
    assert client.post("/review/1", data={}).status_code == 401
    # Feeds, subscribers' links, signing in, health and static files stay open.
    assert client.get("/feeds/changes.atom").status_code == 200
    assert client.get("/feeds/changes.rss").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/rulewatch.css").status_code == 200
    assert client.get("/login").status_code == 200
    assert "no longer valid" in client.get("/unsubscribe/forged").text
    assert "no longer valid" in client.get("/subscription/forged").text


def test_the_admin_token_still_works_for_the_api_and_the_admin_page(history):
    make_account(history.engine, VIEWER, "viewer")
    config = replace(history.config, web=replace(history.config.web, admin_token=ADMIN_TOKEN))
    client = browser(history, config)
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/api/changes", headers=bearer).status_code == 200
    assert client.get("/api/admin/sources", headers=bearer).status_code == 200
    assert client.get("/api/changes", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # The admin page keeps its own token form; its session is an admin's for the pages.
    assert client.get("/admin").status_code == 401
    form = client.get("/admin").text
    client.post("/admin/login", data={"csrf_token": csrf_of(form), "token": ADMIN_TOKEN})
    assert client.get("/admin").status_code == 200
    assert client.get("/review").status_code == 200
    audit = client.get("/admin/audit").text
    assert '<td data-label="Who">admin token</td>\n      <td data-label="Action">sign in</td>' in audit


# -- sessions ----------------------------------------------------------------------------------------


def cookie_header(answer, name: str) -> str:
    [header] = [h for h in answer.headers.get_list("set-cookie") if h.startswith(name + "=")]
    return header


def test_signing_in_sets_a_lax_http_only_secure_cookie_and_signing_out_revokes_it(desk):
    client = browser(desk)
    redline = redline_of(desk, "negation")
    assert client.get(redline, follow_redirects=False).headers["location"].startswith("/login?next=")
    answer = sign_in(client, REVIEWER, next_path=redline)
    assert answer.status_code == 303 and answer.headers["location"] == redline
    cookie = cookie_header(answer, "rulewatch_session")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" in cookie
    assert "Path=/" in cookie and "Max-Age=43200" in cookie
    page = client.get(redline)
    assert page.status_code == 200 and "Signed in as reviewer@example.com" in page.text

    kept = client.cookies.get("rulewatch_session")
    other = browser(desk)
    sign_in(other, REVIEWER)
    signout = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert signout.status_code == 303 and signout.headers["location"] == "/login"
    assert 'rulewatch_session=""' in cookie_header(signout, "rulewatch_session")

    # A copy of the cookie taken before signing out is dead on the server; the other session lives on.
    replayed = browser(desk)
    replayed.cookies.set("rulewatch_session", kept)
    assert replayed.get("/", follow_redirects=False).status_code == 303
    assert other.get("/").status_code == 200
    with session_scope(desk.engine) as session:
        actions = [(r.actor, r.action) for r in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == [(REVIEWER, "sign_in"), (REVIEWER, "sign_in"), (REVIEWER, "sign_out")]


def test_the_cookie_is_not_secure_on_a_plain_http_site(desk):
    config = replace(desk.config, web=replace(desk.config.web, base_url="http://127.0.0.1:8000"))
    client = TestClient(create_app(config, desk.engine))
    answer = sign_in(client, VIEWER)
    assert answer.status_code == 303 and "Secure" not in cookie_header(answer, "rulewatch_session")
    assert client.get("/").status_code == 200


def test_a_wrong_password_or_account_is_refused_alike(desk):
    client = browser(desk)
    for email, password in ((REVIEWER, "not the password"), ("nobody@example.com", PASSWORD), ("nonsense", PASSWORD)):
        answer = sign_in(client, email, password)
        assert answer.status_code == 401 and "do not match an account" in answer.text
        assert "rulewatch_session" not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_after_sign_in_only_a_local_path_is_followed(desk, target):
    assert sign_in(browser(desk), VIEWER, next_path=target).headers["location"] == "/"


# -- CSRF ------------------------------------------------------------------------------------------------


def test_forms_without_their_csrf_token_are_refused(desk):
    client = browser(desk)
    for data in ({}, {"csrf_token": "forged"}):
        answer = client.post("/login", data={**data, "email": REVIEWER, "password": PASSWORD}, follow_redirects=False)
        assert answer.status_code == 403 and "rulewatch_session" not in answer.headers.get("set-cookie", "")
    # A token from another browser's sign-in form is bound to that browser's cookie.
    stranger = browser(desk)
    token = csrf_of(stranger.get("/login").text)
    client.get("/login")
    answer = client.post("/login", data={"csrf_token": token, "email": REVIEWER, "password": PASSWORD})
    assert answer.status_code == 403

    sign_in(client, REVIEWER)
    event = desk.events["negation"]
    for data in ({"status": "reviewed"}, {"status": "reviewed", "csrf_token": "forged"}):
        assert client.post(f"/review/{event}", data=data).status_code == 403
        assert client.post("/logout", data=data).status_code == 403
    # Another session's token does not pass either.
    other = browser(desk)
    sign_in(other, REVIEWER)
    foreign = csrf_of(other.get(redline_of(desk, "negation")).text)
    assert client.post(f"/review/{event}", data={"status": "reviewed", "csrf_token": foreign}).status_code == 403
    assert audit_rows(desk) == []
    assert client.get("/").status_code == 200  # still signed in


# -- sign-in limits ----------------------------------------------------------------------------------


def test_failed_sign_ins_are_limited_per_account_then_per_client(desk):
    client = browser(desk)
    for _ in range(ACCOUNT_LIMIT):
        assert sign_in(client, REVIEWER, "guess guess guess").status_code == 401
    limited = sign_in(client, REVIEWER)  # even the right password
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in limited.text
    assert "rulewatch_session" not in limited.headers.get("set-cookie", "")
    elsewhere = browser(desk, client=("192.0.2.7", 40000))
    assert sign_in(elsewhere, REVIEWER).status_code == 303  # the guesser does not lock the owner out
    same_address = browser(desk)
    assert sign_in(same_address, VIEWER).status_code == 303  # nor is the address held back for other accounts

    for n in range(CLIENT_LIMIT - ACCOUNT_LIMIT):
        assert sign_in(client, f"guess{n}@example.com", "guess guess guess").status_code == 401
    assert sign_in(client, ADMIN).status_code == 429  # this address is held back for every account
    assert sign_in(browser(desk, client=("192.0.2.8", 40000)), ADMIN).status_code == 303


def test_more_sign_ins_at_once_than_the_process_checks_are_answered_429(desk, monkeypatch):
    held = HeldChecks(monkeypatch)
    answers: list = []
    posts = []
    for n in range(CHECKS_AT_ONCE):
        client = browser(desk, client=(f"192.0.2.{n}", 40000))
        form = client.get("/login").text  # the forms first: their pages need no check
        data = {"csrf_token": csrf_of(form), "email": REVIEWER, "password": "guess guess guess"}
        posts.append(threading.Thread(target=lambda c=client, d=data: answers.append(c.post("/login", data=d))))
    for post in posts:
        post.start()
    try:
        for _ in posts:
            assert held.entered.acquire(timeout=60)
        busy = sign_in(browser(desk, client=("192.0.2.99", 40000)), VIEWER)
    finally:
        held.gate.set()
        for post in posts:
            post.join()
    assert busy.status_code == 429 and busy.headers["retry-after"] == "2"
    assert "Too many sign-ins at once; try again in 2 seconds." in busy.text
    assert sorted(answer.status_code for answer in answers) == [401] * CHECKS_AT_ONCE
    assert sign_in(browser(desk, client=("192.0.2.99", 40000)), VIEWER).status_code == 303  # its turn now


# -- roles -------------------------------------------------------------------------------------------


def test_a_viewer_reads_reviews_but_cannot_review(desk):
    client = browser(desk)
    sign_in(client, VIEWER)
    event = desk.events["negation"]
    redline = client.get(redline_of(desk, "negation")).text
    assert 'class="review-new">new</strong>' in redline and 'action="/review/' not in redline
    # Even with a valid token of their own session, the action is refused.
    answer = client.post(f"/review/{event}", data={"status": "reviewed", "csrf_token": csrf_of(redline)})
    assert answer.status_code == 403 and "Only reviewers and admins" in answer.text
    api = client.post(f"/api/events/{event}/review", json={"status": "reviewed"})
    assert api.status_code == 403 and "Only reviewers and admins" in api.json()["detail"]
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin").status_code == 403
    assert audit_rows(desk) == []
    assert review_of(client, event)["status"] == "new"


def test_a_reviewer_reviews_from_the_queue_and_the_redline(desk):
    client = browser(desk)
    sign_in(client, REVIEWER)
    queue = client.get("/review").text
    redline = redline_of(desk, "negation")
    assert f'href="{redline.replace("&", "&amp;")}"' in queue
    page = client.get(redline).text
    event = desk.events["negation"]
    assert f'action="/review/{event}"' in page and 'name="note"' in page
    assert f'name="next" value="{redline.replace("&", "&amp;")}#review-{event}"' in page
    answer = client.post(
        f"/review/{event}",
        data={
            "csrf_token": csrf_of(page),
            "status": "reviewed",
            "note": HOSTILE_NOTE,
            "next": f"{redline}#review-{event}",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"{redline}#review-{event}"
    page = client.get(redline).text
    assert 'class="review-reviewed">reviewed</strong>' in page and "by reviewer@example.com" in page
    assert "Checked &lt;script&gt;alert(1)&lt;/script&gt; &amp; filed" in page
    assert_no_live_markup(page)
    review = review_of(client, event)
    assert (review["status"], review["by"]) == ("reviewed", REVIEWER)
    assert [(n["by"], n["text"]) for n in review["notes"]] == [(REVIEWER, HOSTILE_NOTE)]
    assert audit_rows(desk) == [(REVIEWER, event, "new", "reviewed", HOSTILE_NOTE)]
    # Reviewed is no longer open; it shows under its own status.
    assert redline.replace("&", "&amp;") not in client.get("/review").text
    assert redline.replace("&", "&amp;") in client.get("/review?status=reviewed").text
    assert client.get("/review?status=done").status_code == 400
    assert client.get("/review?source=nope").status_code == 400


def test_an_event_without_a_review_offers_no_form_and_refuses_one(desk):
    client = browser(desk)
    sign_in(client, REVIEWER)
    page = client.get(redline_of(desk, "cosmetic")).text
    assert 'action="/review/' not in page and "Review of event" not in page
    cosmetic = desk.events["cosmetic"]
    answer = client.post(f"/review/{cosmetic}", data={"csrf_token": csrf_of(page), "status": "reviewed"})
    assert answer.status_code == 400 and "a cosmetic change" in answer.text
    assert client.post("/review/999999", data={"csrf_token": csrf_of(page), "status": "reviewed"}).status_code == 404


# -- the API ----------------------------------------------------------------------------------------------


def test_the_review_api(desk):
    client = browser(desk)
    sign_in(client, REVIEWER)
    event = desk.events["minor"]
    answer = client.post(f"/api/events/{event}/review", json={"status": "in_review", "note": "Looking."})
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == event and body["event"] == "changed" and body["severity"] == "minor"
    assert body["review"]["status"] == "in_review" and body["review"]["by"] == REVIEWER
    assert [(n["by"], n["text"]) for n in body["review"]["notes"]] == [(REVIEWER, "Looking.")]
    assert body == next(e for e in client.get("/api/changes").json() if e["id"] == event)

    long_note = "§ 744.23 " * 1000  # 9,000 characters, 10 KB as UTF-8: more than other API bodies may be
    assert (
        client.post(f"/api/events/{event}/review", json={"status": "in_review", "note": long_note}).status_code == 200
    )
    too_long = client.post(f"/api/events/{event}/review", json={"status": "in_review", "note": "x" * 10_001})
    assert too_long.status_code == 422
    assert client.post(f"/api/events/{event}/review", json={"status": "done"}).status_code == 422
    form = client.post(f"/api/events/{event}/review", data={"status": "reviewed"})
    assert form.status_code == 415  # a form any site could post is not taken
    plain = client.post(
        f"/api/events/{event}/review", content=b'{"status": "reviewed"}', headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert client.post(f"/api/events/{desk.events['new']}/review", json={"status": "reviewed"}).status_code == 400
    assert client.post("/api/events/999999/review", json={"status": "reviewed"}).status_code == 404
    assert audit_rows(desk) == [
        (REVIEWER, event, "new", "in_review", "Looking."),
        (REVIEWER, event, "in_review", "in_review", long_note.strip()),
    ]

    anonymous = browser(desk)
    assert anonymous.post(f"/api/events/{event}/review", json={"status": "reviewed"}).status_code == 401


def test_the_admin_token_reviews_through_the_api(admin_client, history):
    event = history.events["negation"]
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    answer = admin_client.post(f"/api/events/{event}/review", json={"status": "not_relevant"}, headers=bearer)
    assert answer.status_code == 200 and answer.json()["review"]["by"] == "admin token"
    wrong = admin_client.post(
        f"/api/events/{event}/review", json={"status": "new"}, headers={"Authorization": "Bearer x"}
    )
    assert wrong.status_code == 401
    assert audit_rows(history) == [("admin token", event, "new", "not_relevant", None)]


# -- feeds and the audit log ------------------------------------------------------------------------------


def test_feeds_show_reviews_to_signed_in_readers_only(desk):
    reviewer = browser(desk)
    sign_in(reviewer, REVIEWER)
    event = desk.events["negation"]
    reviewer.post(f"/api/events/{event}/review", json={"status": "reviewed", "note": HOSTILE_NOTE})

    anonymous = browser(desk).get("/feeds/changes.atom")
    assert anonymous.status_code == 200 and "review:" not in anonymous.text
    assert "cache-control" not in anonymous.headers
    signed_in = reviewer.get("/feeds/changes.atom")
    assert signed_in.headers["cache-control"] == "private, no-store"
    entries = {entry.id.rsplit("/", 1)[1]: entry for entry in feedparser.parse(signed_in.content).entries}
    terms = {term["term"] for term in entries[str(event)].tags}
    assert "review:reviewed" in terms
    content = entries[str(event)].content[0].value
    assert "Review: <strong>reviewed</strong> by reviewer@example.com" in content
    assert "Checked &lt;script&gt;alert(1)&lt;/script&gt; &amp; filed" in content
    assert "review:new" in {t["term"] for t in entries[str(desk.events["minor"])].tags}
    assert not any(t["term"].startswith("review:") for t in entries[str(desk.events["removed"])].tags)
    assert ">review: reviewed</category>" in reviewer.get("/feeds/changes.rss").text


def test_the_audit_log_is_for_admins_and_keeps_every_action(desk):
    reviewer = browser(desk)
    sign_in(reviewer, REVIEWER)
    event = desk.events["negation"]
    reviewer.post(f"/api/events/{event}/review", json={"status": "in_review"})
    reviewer.post(f"/api/events/{event}/review", json={"status": "reviewed", "note": HOSTILE_NOTE})
    assert reviewer.get("/admin/audit").status_code == 403

    admin = browser(desk)
    sign_in(admin, ADMIN)
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    text = page.text
    assert_no_live_markup(text)
    assert "in review → reviewed" in text and "new → in review" in text
    assert "Checked &lt;script&gt;alert(1)&lt;/script&gt; &amp; filed" in text
    assert f'href="{redline_of(desk, "negation").replace("&", "&amp;")}">{event}</a>' in text
    for action in ("user added", "sign in link", "password set", "sign in", "review"):
        assert f'<td data-label="Action">{action}</td>' in text, action
    assert text.index("in review → reviewed") < text.index("new → in review")  # newest first
    assert admin.get("/admin").status_code == 200  # an admin account needs no admin token


# -- one-time links -----------------------------------------------------------------------------------


def test_a_one_time_link_sets_a_password_once(history):
    with session_scope(history.engine) as session:
        _, token = add_user(session, REVIEWER, "reviewer", "command line")
    client = browser(history)
    link = f"/login/link/{token}"
    form = client.get(link)
    assert form.status_code == 200 and "reviewer@example.com" in form.text
    assert client.get(link).status_code == 200  # opening it (a mail scanner) spends nothing
    data = {"csrf_token": csrf_of(form.text), "password": PASSWORD, "confirm": PASSWORD + "!"}
    assert "The two passwords differ" in client.post(link, data=data).text
    assert "at least 12" in client.post(link, data={**data, "password": "short", "confirm": "short"}).text
    assert client.post(link, data={**data, "csrf_token": "forged", "confirm": PASSWORD}).status_code == 403
    done = client.post(link, data={**data, "confirm": PASSWORD}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "Signed in as reviewer@example.com" in client.get("/").text  # signed in at once
    again = browser(history).get(link)
    assert again.status_code == 404 and "no longer valid" in again.text
    assert sign_in(browser(history), REVIEWER).status_code == 303


def test_an_expired_link_is_refused(history):
    with session_scope(history.engine) as session:
        _, token = add_user(session, REVIEWER, "reviewer", "command line")
        for link in session.exec(select(SignInLink)):
            link.expires_at = utcnow()
    answer = browser(history).get(f"/login/link/{token}")
    assert answer.status_code == 404 and "links last 24 hours" in answer.text
