"""Admin page and admin API: off without a token, then a bearer token or a login cookie."""

from __future__ import annotations

import re
from dataclasses import replace

from fastapi.testclient import TestClient
from sqlmodel import select

from storage.db import session_scope, utcnow
from storage.models import Delivery, Event, Source
from tests.tracker.web.helpers import ADMIN_TOKEN, token_version
from tracker.web.app import create_app

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
API_PATHS = ("/api/admin/sources", "/api/admin/subscribers", "/api/admin/deliveries")


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, token: str = ADMIN_TOKEN):
    form = client.get("/admin")
    return client.post("/admin/login", data={"csrf_token": csrf_of(form.text), "token": token}, follow_redirects=False)


def add_failing_delivery(history, subscriber) -> None:
    with session_scope(history.engine) as session:
        event_id = session.exec(select(Event.id)).first()
        now = utcnow()
        session.add(
            Delivery(
                event_id=event_id,
                subscriber_id=subscriber.id,
                cadence="immediate",
                status="failed",
                attempts=7,
                next_attempt_at=now,
                created_at=now,
                last_error="550 mailbox unavailable\nremote said no",
            )
        )
        source = session.exec(select(Source).where(Source.name == "fr")).one()
        source.last_error = "first line of the error\nsecond line with details"


def test_admin_is_off_without_a_token(client, history):
    answer = client.get("/admin")
    assert answer.status_code == 404
    assert "[web]" in answer.text and "admin_token" in answer.text and "RULEWATCH_ADMIN_TOKEN" in answer.text
    assert client.post("/admin/login", data={"token": ""}).status_code == 404
    for path in API_PATHS:
        answer = client.get(path, headers={"Authorization": "Bearer "})
        assert answer.status_code == 404, path
        assert "RULEWATCH_ADMIN_TOKEN" in answer.json()["detail"]


def test_admin_page_asks_for_the_token(admin_client, history):
    answer = admin_client.get("/admin")
    assert answer.status_code == 401
    assert '<form method="post" action="/admin/login">' in answer.text
    assert 'type="password" name="token"' in answer.text
    assert admin_client.get("/admin?token=" + ADMIN_TOKEN).status_code == 401  # never in a URL


def test_wrong_tokens_are_refused(admin_client, history):
    answer = log_in(admin_client, "not-the-token")
    assert answer.status_code == 403 and "not the admin token" in answer.text
    assert "set-cookie" not in answer.headers
    assert admin_client.get("/admin").status_code == 401
    assert admin_client.get("/admin", headers={"Authorization": "Bearer nope"}).status_code == 401
    admin_client.cookies.set("rulewatch_admin", "forged")
    assert admin_client.get("/admin").status_code == 401
    admin_client.cookies.clear()
    for path in API_PATHS:
        assert admin_client.get(path).status_code == 401
        answer = admin_client.get(path, headers={"Authorization": "Bearer nope"})
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert admin_client.get(path, headers={"Authorization": f"Basic {ADMIN_TOKEN}"}).status_code == 401


def test_login_needs_a_csrf_token(admin_client, history):
    for data in ({"token": ADMIN_TOKEN}, {"token": ADMIN_TOKEN, "csrf_token": "forged"}):
        answer = admin_client.post("/admin/login", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_admin_page_with_the_bearer_header(admin_client, history, subscriber):
    add_failing_delivery(history, subscriber)
    answer = admin_client.get("/admin", headers=BEARER)
    assert answer.status_code == 200
    text = answer.text
    assert "first line of the error\nsecond line with details" in text  # the full error text
    assert "legal@example.com" in text
    assert "550 mailbox unavailable\nremote said no" in text and "<td>7</td>" in text


def test_admin_login_sets_a_strict_http_only_cookie(admin_client, history, subscriber):
    answer = log_in(admin_client)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("rulewatch_admin=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert ADMIN_TOKEN not in cookie  # an HMAC of it, signed and expiring
    page = admin_client.get("/admin")
    assert page.status_code == 200 and "legal@example.com" in page.text

    # The cookie is for pages only: the API wants the bearer token.
    assert admin_client.get("/api/admin/sources").status_code == 401

    # Sign out needs the page's CSRF token, then the cookie is gone.
    assert admin_client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 403
    assert (
        admin_client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False).status_code
        == 303
    )
    admin_client.cookies.clear()
    assert admin_client.get("/admin").status_code == 401


def test_the_admin_cookie_is_secure_when_base_url_is_https_as_the_session_cookie_is(history):
    # Plain http between a TLS-ending proxy and the app: base_url alone says the site is https.
    https_site = replace(history.config, web=replace(history.config.web, admin_token=ADMIN_TOKEN))
    assert https_site.web.base_url.startswith("https://")
    plain_site = replace(https_site, web=replace(https_site.web, base_url="http://127.0.0.1:8000"))
    for config, secure in ((https_site, True), (plain_site, False)):
        client = TestClient(create_app(config, history.engine))  # http://testserver
        signed_in = log_in(client)
        assert signed_in.status_code == 303 and ("Secure" in signed_in.headers["set-cookie"]) is secure
        client.cookies.set("rulewatch_admin", signed_in.cookies["rulewatch_admin"])  # as the proxy's client would
        page = client.get("/admin")
        assert page.status_code == 200
        signed_out = client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        cleared = signed_out.headers["set-cookie"]
        assert cleared.startswith('rulewatch_admin=""') and ("Secure" in cleared) is secure


def test_a_cookie_stops_working_when_the_token_changes(admin_client, history):
    cookie = log_in(admin_client).headers["set-cookie"].split(";")[0].split("=", 1)[1]
    config = replace(history.config, web=replace(history.config.web, admin_token="a-new-token"))
    other = TestClient(create_app(config, history.engine))
    other.cookies.set("rulewatch_admin", cookie)
    assert other.get("/admin").status_code == 401


def test_revoke_a_subscribers_links_from_the_page(admin_client, history, subscriber):
    log_in(admin_client)
    page = admin_client.get("/admin").text
    path = f"/admin/subscribers/{subscriber.id}/revoke"
    assert f'action="{path}"' in page
    assert admin_client.post(path, data={}).status_code == 403  # no CSRF token
    assert token_version(history, subscriber.id) == subscriber.token_version
    answer = admin_client.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert answer.status_code == 303
    assert token_version(history, subscriber.id) == subscriber.token_version + 1

    admin_client.cookies.clear()
    assert admin_client.post(path, data={"csrf_token": csrf_of(page)}).status_code == 401


def test_admin_api(admin_client, history, subscriber):
    add_failing_delivery(history, subscriber)
    sources = admin_client.get("/api/admin/sources", headers=BEARER)
    assert sources.status_code == 200
    fr = next(s for s in sources.json() if s["name"] == "fr")
    assert fr["last_error"] == "first line of the error\nsecond line with details"

    subscribers = admin_client.get("/api/admin/subscribers", headers=BEARER).json()
    assert subscribers == [
        {
            "id": subscriber.id,
            "email": "legal@example.com",
            "active": True,
            "sources": ["bis"],
            "expectations": [],
            "min_severity": "substantive",
            "digest": "off",
            "created_at": subscribers[0]["created_at"],
            "last_digest_at": None,
            "token_version": 1,
        }
    ]
    deliveries = admin_client.get("/api/admin/deliveries", headers=BEARER).json()
    assert [(d["status"], d["attempts"], d["subscriber"]) for d in deliveries] == [("failed", 7, "legal@example.com")]

    revoked = admin_client.post(f"/api/admin/subscribers/{subscriber.id}/revoke", headers=BEARER)
    assert revoked.status_code == 200 and revoked.json()["token_version"] == 2
    assert admin_client.post("/api/admin/subscribers/9999/revoke", headers=BEARER).status_code == 404
    assert admin_client.post(f"/api/admin/subscribers/{subscriber.id}/revoke").status_code == 401


# -- sessions end at logout; token guesses are limited -------------------------------------------


def _cookie_value(answer) -> str:
    return answer.headers["set-cookie"].split(";")[0].split("=", 1)[1]


def test_logout_revokes_the_session_on_the_server(admin_client, history):
    kept = _cookie_value(log_in(admin_client))
    other = TestClient(admin_client.app)
    other_cookie = _cookie_value(log_in(other))
    page = admin_client.get("/admin")
    assert page.status_code == 200
    admin_client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)

    # A copy of the cookie taken before logout (a shared machine, a stolen cookie) is dead.
    replayed = TestClient(admin_client.app)
    replayed.cookies.set("rulewatch_admin", kept)
    assert replayed.get("/admin").status_code == 401
    # Only that session ended: another one goes on.
    still = TestClient(admin_client.app)
    still.cookies.set("rulewatch_admin", other_cookie)
    assert still.get("/admin").status_code == 200


def test_a_session_expires_on_the_server(admin_client, history):
    from datetime import timedelta

    from storage.models import AdminSession

    cookie = _cookie_value(log_in(admin_client))
    with session_scope(history.engine) as session:
        for row in session.exec(select(AdminSession)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    replayed = TestClient(admin_client.app)
    replayed.cookies.set("rulewatch_admin", cookie)
    assert replayed.get("/admin").status_code == 401


def test_token_guesses_are_limited_per_address_in_the_database(admin_client, history):
    from datetime import timedelta

    from storage.models import AdminAuthFailure

    for _ in range(6):
        assert log_in(admin_client, "guess").status_code == 403
    # A second process of the app (another worker) counts the same failures.
    second = TestClient(create_app(admin_client.app.state.config, history.engine))
    for _ in range(4):
        assert second.get("/api/admin/sources", headers={"Authorization": "Bearer guess"}).status_code == 401
    limited = log_in(admin_client, ADMIN_TOKEN)  # even the right token: the guesses stop being checked
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "set-cookie" not in limited.headers
    api = second.get("/api/admin/sources", headers=BEARER)
    assert api.status_code == 429 and int(api.headers["retry-after"]) <= 15 * 60
    assert "detail" in api.json()
    assert admin_client.get("/admin", headers={"Authorization": "Bearer guess"}).status_code == 429

    # Another address is not held back.
    elsewhere = TestClient(admin_client.app, client=("192.0.2.7", 40000))
    assert elsewhere.get("/api/admin/sources", headers=BEARER).status_code == 200

    # Fifteen minutes later the address may try again.
    with session_scope(history.engine) as session:
        for row in session.exec(select(AdminAuthFailure)):
            row.at = row.at - timedelta(minutes=15)
    assert log_in(admin_client, ADMIN_TOKEN).status_code == 303
