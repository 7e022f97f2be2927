"""Every page of the review app in Chromium, on a desktop (1280 px) and a phone (390 px):
axe-core finds no serious or critical accessibility violation, the page never scrolls sideways
(a wide table scrolls inside its own box), everything it loads comes from the app itself and
loads, and a screenshot of each goes to tests/browser/artifacts/.

To check a new page, add a line to PAGES: a name, and what a reader does to get there. Most
pages are read where no account exists yet (the app open to all); a page behind a sign-in is a
`Locked` visit, to the same app over another history in which accounts exist (LockedDesk).
axe-core comes from npm: `npm ci --prefix tests/browser` (.ci/run does it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import count
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from storage.db import session_scope
from tests.browser.conftest import ADMIN, ADMIN_TOKEN, ARTIFACTS, REVIEWER, VIEWER, Desk, LockedDesk
from tests.support.accounts import PASSWORD
from tests.support.history import GUIDANCE, NOTICE, PRESS
from tracker.alerts.subscribers import upsert_subscriber
from tracker.alerts.tokens import UNSUBSCRIBE, make_token
from tracker.settings import SubscriberConfig

AXE = ARTIFACTS.parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory) -> str:
    """SQLite alone: how a page reads and fits does not depend on the database, and the review
    desk's PostgreSQL half is held by test_review_desk.py and the Chromium review test."""
    return f"sqlite:///{tmp_path_factory.mktemp('pages') / 'rulewatch.db'}"


VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "mobile": {"width": 390, "height": 844}}
FAILING_IMPACTS = ("serious", "critical")
_addresses = count(1)


def sign_in_as_admin(page: Page, desk: Desk, token: str = ADMIN_TOKEN) -> None:
    page.goto(desk.url("/admin"))
    page.get_by_label("Admin token").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.locator("h1").inner_text() == ("Admin" if token == ADMIN_TOKEN else "Admin sign-in")


def unsubscribed(page: Page, desk: Desk) -> None:
    """A subscriber of its own, so that the other pages keep theirs."""
    with session_scope(desk.history.engine) as session:
        subscriber = upsert_subscriber(session, SubscriberConfig(f"leaving-{next(_addresses)}@example.com"))
        token = make_token("test-secret", subscriber, UNSUBSCRIBE)
    page.goto(desk.url(f"/unsubscribe/{token}"))
    with page.expect_navigation():
        page.get_by_role("button", name="Unsubscribe").click()
    assert "will get no more email" in page.inner_text("main")


def saved_subscription(page: Page, desk: Desk) -> None:
    page.goto(desk.url(f"/subscription/{desk.manage_token}"))
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Saved.").is_visible()


def document(url: str, query: str = "") -> Callable[[Page, Desk], object]:
    def go(page: Page, desk: Desk) -> object:
        return page.goto(desk.url(f"/documents/{desk.history.documents[url]}{query}"))

    return go


def path(address: str) -> Callable[[Page, Desk], object]:
    return lambda page, desk: page.goto(desk.url(address))


@dataclass(frozen=True)
class Locked:
    """A visit to the app where accounts exist."""

    go: Callable[[Page, LockedDesk], object]


def sign_in(page: Page, desk: LockedDesk, email: str, password: str = PASSWORD, then: str = "/") -> None:
    page.goto(desk.url("/login?next=" + quote(then, safe="/")))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def signed_in(email: str, address: str | Callable[[LockedDesk], str]) -> Locked:
    """The page at `address`, for the account `email` signed in on the sign-in form."""

    def go(page: Page, desk: LockedDesk) -> None:
        wanted = address if isinstance(address, str) else address(desk)
        sign_in(page, desk, email, then=wanted)
        assert page.url == desk.url(wanted), page.url
        assert f"Signed in as {email}" in page.inner_text("header")

    return Locked(go)


def sign_in_refused(page: Page, desk: LockedDesk) -> None:
    sign_in(page, desk, "nobody@example.com", "not the password")
    assert "do not match an account" in page.inner_text("main")


def set_password(page: Page, desk: LockedDesk) -> None:
    page.goto(desk.url(f"/login/link/{desk.link_token}"))
    assert page.locator("h1").inner_text() == "Choose a password"


def set_password_refused(page: Page, desk: LockedDesk) -> None:
    """Two passwords that differ: the page again with why, and the link still unused."""
    set_password(page, desk)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same again").fill(PASSWORD + "!")
    with page.expect_navigation():
        page.get_by_role("button", name="Set password and sign in").click()
    assert "The two passwords differ" in page.inner_text("main")


# Not here: /docs, Swagger UI as the fastapi-offline package ships it, whose own markup and
# styles axe faults (contrast, nested controls, no lang): not written by this app. Feeds,
# /healthz and /openapi.json are not pages.
PAGES: dict[str, Callable[[Page, Desk], object] | Locked] = {
    "dashboard": path("/"),
    "changes": path("/changes"),
    "changes-none-match": path("/changes?until=2000-01-01"),
    "documents": path("/documents"),
    "document": document(GUIDANCE),
    "diff": document(GUIDANCE, "/diff"),
    "diff-side-by-side": document(GUIDANCE, "/diff?view=side"),
    "diff-only-substantive": document(GUIDANCE, "/diff?from=1&to=3&only=substantive"),
    "diff-nothing-substantive": document(GUIDANCE, "/diff?from=1&to=2&only=substantive"),
    "diff-first-version": document(NOTICE, "/diff?to=1"),
    "diff-fetched-markup": document(PRESS, "/diff?view=side"),
    "diff-collapsed": lambda page, desk: page.goto(desk.url(f"/documents/{desk.long_rule}/diff")),
    "subscription": lambda page, desk: page.goto(desk.url(f"/subscription/{desk.manage_token}")),
    "subscription-saved": saved_subscription,
    "unsubscribe-confirm": lambda page, desk: page.goto(desk.url(f"/unsubscribe/{desk.unsubscribe_token}")),
    "unsubscribe-done": unsubscribed,
    "admin-sign-in": path("/admin"),
    "admin-sign-in-refused": lambda page, desk: sign_in_as_admin(page, desk, token="not-the-token"),
    "admin": sign_in_as_admin,
    "sign-in": path("/login"),
    "sign-in-refused": Locked(sign_in_refused),
    "set-password": Locked(set_password),
    "set-password-refused": Locked(set_password_refused),
    "review-queue": path("/review"),
    "review-queue-none-match": path("/review?status=not_relevant"),
    "review-queue-as-reviewer": signed_in(REVIEWER, "/review"),
    "review-queue-all-as-viewer": signed_in(VIEWER, "/review?status=all"),
    "diff-as-reviewer": signed_in(REVIEWER, lambda desk: desk.negation),
    "diff-as-viewer": signed_in(VIEWER, lambda desk: desk.negation),
    "audit-log": signed_in(ADMIN, "/admin/audit"),
    "expectations": path("/expectations"),
    "expectation-met": path("/expectations/gp10"),
    "expectation-waiting-as-viewer": signed_in(VIEWER, "/expectations/gp10"),
    "dashboard-as-admin": signed_in(ADMIN, "/"),
    "search": path('/search?q="Exporters+may"'),
    "search-nothing-found": path("/search?q=zebra"),
    "search-refused": path('/search?q="unclosed'),
    "error-not-found": path("/no/such/page"),
    "error-bad-request": path("/changes?since=yesterday"),
}

# Whatever reaches past the right edge of the window, outside a box that scrolls by itself.
PAST_THE_EDGE = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (element) => {
    for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
      if (["auto", "scroll", "hidden"].includes(getComputedStyle(box).overflowX)) return true;
    }
    return false;
  };
  const past = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && !scrolls(element)) {
      past.push(`${element.tagName.toLowerCase()}.${element.className} (right edge at ${Math.round(box.right)} px)`);
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, past: past.slice(0, 10)};
}"""


def axe_violations(page: Page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `npm ci --prefix tests/browser` (.ci/run does it)")
    page.add_script_tag(path=str(AXE))
    return page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")


def described(violation: dict) -> str:
    where = "; ".join(f"{' '.join(node['target'])}: {node['html'][:160]}" for node in violation["nodes"][:3])
    return f"{violation['impact']} {violation['id']}: {violation['help']} ({len(violation['nodes'])} elements: {where})"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible_and_fits(browser, desk, request, name, viewport):
    # Playwright adds axe as an inline script, which the site's policy forbids: this context
    # lets it in (test_redline_keys.py runs the page's own script under the real policy).
    context = browser.new_context(viewport=VIEWPORTS[viewport], is_mobile=viewport == "mobile", bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and "/static/" in r.url and errors.append(f"{r.status} {r.url}"))
    # A request the browser gave up because the reader moved on to the next page is no failure.
    page.on("requestfailed", lambda r: r.failure == "net::ERR_ABORTED" or errors.append(f"{r.failure}: {r.url}"))
    visit = PAGES[name]
    if isinstance(visit, Locked):
        locked: LockedDesk = request.getfixturevalue("locked_desk")
        base_url, go = locked.base_url, partial(visit.go, page, locked)
    else:
        base_url, go = desk.base_url, partial(visit, page, desk)
    page.on("request", lambda r: r.url.startswith(base_url) or elsewhere.append(r.url))
    try:
        go()
        page.wait_for_load_state("networkidle")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{viewport}.png"), full_page=True)
        fit = page.evaluate(PAST_THE_EDGE)
        violations = axe_violations(page)
    finally:
        context.close()

    if violations:
        (ARTIFACTS / "axe").mkdir(exist_ok=True)
        report = [{key: v[key] for key in ("id", "impact", "help", "helpUrl", "nodes")} for v in violations]
        (ARTIFACTS / "axe" / f"{name}-{viewport}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    failing = [described(v) for v in violations if v["impact"] in FAILING_IMPACTS]
    assert failing == [], f"axe-core on {name} at {viewport}:\n" + "\n".join(failing)
    assert fit["past"] == [] and fit["scrollWidth"] <= fit["width"], f"{name} at {viewport} is too wide: {fit}"
    assert errors == [], errors
    assert elsewhere == [], f"{name} loaded from elsewhere: {elsewhere}"
