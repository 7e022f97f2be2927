"""Fetched text is shown as text everywhere: no live tag or attribute on any page, plain strings in the API.

The history's press release (version 2) carries `<script>alert(1)</script>` in its
title and `<img src=x onerror=alert(1)>` in its text, as text. Here its HTTP
headers, its evidence and its source's last error carry markup too.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from storage.db import session_scope
from storage.models import Event, Source, Version
from tests.support.history import PRESS, SCRIPT, build_history, unchanged
from tests.tracker.web.helpers import ADMIN_TOKEN, CSP, assert_no_live_markup
from tracker.alerts.subscribers import upsert_subscriber
from tracker.alerts.tokens import make_manage_token
from tracker.settings import ExpectationConfig, SubscriberConfig
from tracker.web.app import create_app

IMG = "<img src=x onerror=alert(1)>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(scope="module")
def hostile(module_database_url, tmp_path_factory):
    """The history with markup in every place fetched text reaches, and an app that shows it all.

    Built once for the module: its tests only read it."""
    history = build_history(module_database_url, tmp_path_factory.mktemp("hostile"))
    with session_scope(history.engine) as session:
        subscriber = upsert_subscriber(session, SubscriberConfig(email="legal@example.com", sources=("bis",)))
    press = history.documents[PRESS]
    with session_scope(history.engine) as session:
        version = session.exec(select(Version).where(Version.document_id == press, Version.number == 2)).one()
        version.headers = {"Content-Type": "text/html", "X-Note": IMG}
        version.evidence = {
            "stage": SCRIPT,
            "attachments": [
                {
                    "role": SCRIPT,
                    "url": "javascript:alert(1)",
                    "status": 200,
                    "content_type": IMG,
                    "headers": {"X-Evil": SCRIPT},
                    "sha256": version.sha256,
                }
            ],
        }
        source = session.exec(select(Source).where(Source.name == "bis")).one()
        source.last_error = f"HTTP 500 from the page: {SCRIPT} {IMG}"
        for event in session.exec(select(Event).where(Event.document_id == press)):
            event.expectations = ["evil"]  # as ingest names it: the press release is in evil's thread
    web = replace(history.config.web, admin_token=ADMIN_TOKEN)
    expectations = (*history.config.expectations, ExpectationConfig(name="evil", title=SCRIPT + IMG, rin="1"))
    config = replace(history.config, web=web, expectations=expectations)
    client = TestClient(create_app(config, history.engine))
    client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    manage = make_manage_token("test-secret", subscriber)
    with unchanged(history.engine):
        yield client, press, manage
    history.engine.dispose()


def test_every_page_shows_fetched_markup_as_text(hostile):
    client, press, manage = hostile
    pages = [
        "/",
        "/documents",
        f"/documents/{press}",
        "/changes",
        "/changes?source=bis",
        "/expectations",
        "/expectations/evil",
        "/search?q=script",
        f"/search?q={SCRIPT}",
        "/admin",
        f"/subscription/{manage}",
    ]
    for view in ("inline", "side"):
        for only in ("", "substantive"):
            pages.append(f"/documents/{press}/diff?from=1&to=2&view={view}&only={only}")
            pages.append(f"/documents/{press}/diff?to=2&view={view}&only={only}")
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-security-policy"] == CSP, path
        assert_no_live_markup(answer.text)
        assert ESCAPED_SCRIPT in answer.text, path
    document_page = client.get(f"/documents/{press}").text
    assert ESCAPED_IMG in document_page and "javascript:alert(1)" in document_page
    assert 'href="javascript:' not in document_page  # fetched URLs are text, never links
    assert ESCAPED_IMG in client.get(f"/documents/{press}/diff?from=1&to=2").text
    assert ESCAPED_IMG in client.get(f"/documents/{press}/diff?from=1&to=2&view=side").text
    assert ESCAPED_IMG in client.get("/").text  # the source's last error
    assert ESCAPED_IMG in client.get("/admin").text
    thread_page = client.get("/expectations/evil").text
    assert f"Press release {ESCAPED_SCRIPT}" in thread_page and f"{ESCAPED_SCRIPT}{ESCAPED_IMG}" in thread_page


def test_the_exported_file_shows_fetched_markup_as_text(hostile):
    client, press, _ = hostile
    answer = client.get(f"/documents/{press}/diff/export?from=1&to=2")
    assert answer.status_code == 200
    assert_no_live_markup(answer.text)
    assert ESCAPED_SCRIPT in answer.text and ESCAPED_IMG in answer.text


def test_what_users_type_is_escaped_in_error_pages(hostile):
    client, press, _ = hostile
    for path in (
        f"/changes?source={SCRIPT}",
        f"/changes?since={IMG}",
        f"/documents/{press}/diff?from={SCRIPT}",
        f"/documents/{press}/diff?view={IMG}",
        f"/subscription/{SCRIPT}",
        f'/search?q="{SCRIPT}',
        f"/search?q=widgets&source={SCRIPT}",
    ):
        answer = client.get(path)
        assert answer.status_code in (400, 404), path
        assert_no_live_markup(answer.text)


def test_the_api_returns_fetched_markup_as_plain_json_strings(hostile):
    client, press, _ = hostile
    for path in (
        "/api/changes",
        "/api/documents",
        f"/api/documents/{press}",
        f"/api/documents/{press}/versions",
        f"/api/documents/{press}/diff?from=1&to=2",
        "/api/sources",
        "/api/expectations",
        "/api/expectations/evil",
        "/api/search?q=script",
        "/api/admin/sources",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "application/json", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    assert client.get(f"/api/documents/{press}").json()["title"] == "Press release " + SCRIPT
    thread = client.get("/api/expectations/evil").json()["thread"]
    assert thread and {event["document"]["title"] for event in thread} == {"Press release " + SCRIPT}
    versions = client.get(f"/api/documents/{press}/versions").json()
    assert versions[1]["headers"]["X-Note"] == IMG and versions[1]["evidence"]["stage"] == SCRIPT
    ops = client.get(f"/api/documents/{press}/diff?from=1&to=2").json()["ops"]
    assert any(IMG in op["text"] for op in ops if op["op"] == "insert")
    assert SCRIPT in client.get("/api/admin/sources").json()[0]["last_error"]
    [hit] = client.get("/api/search", params={"q": SCRIPT}).json()
    assert hit["document"]["title"] == "Press release " + SCRIPT and hit["snippet"] == "Press release " + SCRIPT


def test_raw_snapshot_with_live_markup_is_never_served_as_html(hostile):
    client, press, _ = hostile
    answer = client.get(f"/documents/{press}/versions/2/raw")
    assert b"<script>alert(2)</script>" in answer.content  # the bytes as fetched
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["x-content-type-options"] == "nosniff"
    attachment = client.get(f"/documents/{press}/versions/2/attachments/0/raw")
    assert attachment.headers["content-type"] == "application/octet-stream"
    assert re.search(r'filename="[\w.-]+\.bin"', attachment.headers["content-disposition"])
