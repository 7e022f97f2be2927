"""The review desk in a real browser: a reviewer signs in, opens the queue and a redline, marks it
reviewed with a note; an admin finds that in the audit log; a viewer gets no form, and a post is 403."""

from __future__ import annotations

from sqlmodel import select

from storage.db import session_scope
from storage.models import AuditEntry, Event
from tests.browser.conftest import ARTIFACTS
from tests.support.accounts import PASSWORD, make_account
from tracker.alerts.event_summary import diff_url

NOTE = "Negation confirmed against the <b>Federal Register</b> text."


def sign_in_at(page, base: str, email: str, wanted: str) -> None:
    page.goto(f"{base}{wanted}")
    assert page.url.startswith(f"{base}/login?next=")  # sent to sign in first
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{wanted}")
    assert f"Signed in as {email}" in page.inner_text("header")


def negation(history) -> tuple[int, str]:
    with session_scope(history.engine) as session:
        event = session.get(Event, history.events["negation"])
        return event.id, diff_url("", event)


def test_a_reviewer_marks_a_redline_reviewed_and_an_admin_sees_it_in_the_audit_log(site, page, browser):
    history, base = site
    make_account(history.engine, "reviewer@example.com", "reviewer")
    make_account(history.engine, "admin@example.com", "admin")
    event_id, redline = negation(history)

    sign_in_at(page, base, "reviewer@example.com", "/review")
    assert page.get_by_role("heading", name="Review queue").count() == 1
    page.locator(f'a[href="{redline}"]').click()
    page.wait_for_url(f"{base}{redline}")
    assert page.locator("ins", has_text="not").count() >= 1  # the redline itself
    assert page.locator("p.review-status strong").inner_text() == "new"  # above the redline
    review = page.locator(f"#review-{event_id}")  # the notes and the form, below it
    assert review.locator("strong").inner_text() == "new"
    review.get_by_label("reviewed").check()
    review.get_by_label("Note").fill(NOTE)
    review.get_by_role("button", name="Save review").click()
    page.wait_for_url(f"{base}{redline}#review-{event_id}")
    review = page.locator(f"#review-{event_id}")
    assert review.locator("strong").inner_text() == "reviewed"
    assert NOTE in review.inner_text()  # shown as text, markup and all
    assert review.locator("b").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "redline_reviewed.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login")

    admin = browser.new_context().new_page()
    sign_in_at(admin, base, "admin@example.com", "/admin/audit")
    [row] = [r for r in admin.locator("table.audit tbody tr").all() if r.locator("td").nth(2).inner_text() == "review"]
    cells = [cell.inner_text() for cell in row.locator("td").all()]
    assert cells[1:6] == ["reviewer@example.com", "review", str(event_id), "new → reviewed", NOTE]
    actions = admin.locator("table.audit tbody td:nth-child(3)").all_inner_texts()
    assert actions.count("sign out") == 1 and "sign in" in actions
    admin.screenshot(path=str(ARTIFACTS / "audit_log_as_admin.png"), full_page=True)
    admin.context.close()


def test_a_viewer_sees_the_review_but_has_no_form_and_cannot_post_one(site, page):
    history, base = site
    make_account(history.engine, "viewer@example.com", "viewer")
    event_id, redline = negation(history)
    sign_in_at(page, base, "viewer@example.com", redline)
    review = page.locator(f"#review-{event_id}")
    assert review.locator("strong").inner_text() == "new"
    assert review.locator("form").count() == 0 and page.get_by_role("button", name="Save review").count() == 0
    # A post made with the viewer's own session and CSRF token (the sign-out form's) is refused.
    token = page.locator('header input[name="csrf_token"]').get_attribute("value")
    answer = page.request.post(f"{base}/review/{event_id}", form={"csrf_token": token, "status": "reviewed"})
    assert answer.status == 403
    api = page.request.post(f"{base}/api/events/{event_id}/review", data={"status": "reviewed"})
    assert api.status == 403
    with session_scope(history.engine) as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "review")).all() == []
    page.reload()
    assert page.locator(f"#review-{event_id} strong").inner_text() == "new"
