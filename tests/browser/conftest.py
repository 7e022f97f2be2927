"""A real headless Chromium (Debian's package, driven by Playwright) against the web app
served by uvicorn on loopback. Screenshots go to tests/browser/artifacts/."""

from __future__ import annotations

import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn

from storage.db import session_scope
from storage.models import Event
from storage.repository import find_document
from tests.support.accounts import make_account
from tests.support.history import Checks, History, build_history, publish_expected
from tests.support.smtp import free_port
from tracker.alerts.event_summary import diff_url
from tracker.alerts.subscribers import upsert_subscriber
from tracker.alerts.tokens import UNSUBSCRIBE, make_manage_token, make_token
from tracker.desk.accounts import add_user
from tracker.desk.reviews import review_event
from tracker.settings import SubscriberConfig
from tracker.web.app import create_app

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Per module: Playwright's sync API keeps an event loop running in the thread while it is up,
# and tests of other files that run on the same worker afterwards start loops of their own.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = "Chromium is not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@contextmanager
def _serve(history):
    """The review app of this history on a real HTTP server; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(history.config, history.engine),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            log_config=None,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def site(tmp_path, database_url):
    """The review app on a real HTTP server, over a fresh history built through the real ingest path."""
    history = build_history(database_url, tmp_path)
    with _serve(history) as base_url:
        yield history, base_url


@pytest.fixture(scope="module")
def shared_site(shared_history):
    """The same, over the module's read-only history, for the tests that only look."""
    with _serve(shared_history) as base_url:
        yield shared_history, base_url


@pytest.fixture
def page(browser, request):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], f"script ran in the page: {errors}"


# -- the review desk: every page, for the accessibility, layout, keyboard and print checks ---------

ADMIN_TOKEN = "admin-token-for-browser-tests"
LONG_RULE = "https://www.bis.gov/long-rule"


@dataclass
class Desk:
    """The app over a history with something on every page: an admin token, a subscriber, a met
    expectation, and a long rule whose redline is collapsed around three separate changes."""

    history: History
    base_url: str
    long_rule: int
    manage_token: str
    unsubscribe_token: str

    def url(self, path: str) -> str:
        return self.base_url + path


def long_rule_versions() -> tuple[bytes, bytes]:
    paragraphs = [f"<p>({k}) Paragraph number {k} of a long regulation.</p>" for k in range(80)]
    before = f"<html><body><main><h1>Long rule</h1>{''.join(paragraphs)}</main></body></html>"
    paragraphs[10] = "<p>(10) Paragraph number 10 of a long regulation, as amended.</p>"
    paragraphs[40] = "<p>(40) Paragraph number 40 of a long, revised regulation.</p>"
    del paragraphs[70]
    after = f"<html><body><main><h1>Long rule</h1>{''.join(paragraphs)}</main></body></html>"
    return before.encode(), after.encode()


@pytest.fixture(scope="module")
def desk(module_database_url, tmp_path_factory):
    history = build_history(module_database_url, tmp_path_factory.mktemp("desk"))
    history.config = replace(history.config, web=replace(history.config.web, admin_token=ADMIN_TOKEN))
    before, after = long_rule_versions()
    Checks(history).run("bis", (LONG_RULE, before))
    Checks(history).run("bis", (LONG_RULE, after))
    publish_expected(history)
    with session_scope(history.engine) as session:
        long_rule = find_document(session, LONG_RULE).id
        subscriber = upsert_subscriber(session, SubscriberConfig("legal@example.com", sources=("bis",)))
        manage = make_manage_token("test-secret", subscriber)
        unsubscribe = make_token("test-secret", subscriber, UNSUBSCRIBE)
    with _serve(history) as base_url:
        yield Desk(history, base_url, long_rule, manage, unsubscribe)
    history.engine.dispose()


# -- the same app once accounts exist: every page but signing in wants a sign-in ------------------

VIEWER, REVIEWER, ADMIN = "viewer@example.com", "reviewer@example.com", "admin@example.com"
NEWCOMER = "newcomer@example.com"
REVIEW_NOTE = "Negation confirmed against the <b>Federal Register</b> text;\nfiled under § 744.23."


@dataclass
class LockedDesk:
    """The app over a history of its own in which accounts exist: a viewer, a reviewer and an
    admin with passwords, a newcomer whose one-time link is unused, and reviews in three states
    (the negation in review with a note, the minor typo reviewed, the press release new)."""

    history: History
    base_url: str
    link_token: str
    negation: str  # the redline of the negation, where its review form is

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="module")
def locked_desk(other_module_database_url, tmp_path_factory):
    history = build_history(other_module_database_url, tmp_path_factory.mktemp("locked"))
    for email, role in ((VIEWER, "viewer"), (REVIEWER, "reviewer"), (ADMIN, "admin")):
        make_account(history.engine, email, role)
    with session_scope(history.engine) as session:
        _, link_token = add_user(session, NEWCOMER, "reviewer", ADMIN)
        review_event(session, history.events["negation"], "in_review", REVIEW_NOTE, REVIEWER)
        review_event(session, history.events["minor"], "reviewed", "Typo only.", REVIEWER)
        negation = diff_url("", session.get(Event, history.events["negation"]))
    with _serve(history) as base_url:
        yield LockedDesk(history, base_url, link_token, negation)
    history.engine.dispose()
