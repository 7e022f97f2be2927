"""What a legal team does in a real browser: open a redline, switch views, export,
manage a subscription and unsubscribe. Fetched markup must never run."""

from sqlmodel import select

from storage.db import session_scope
from storage.models import Subscriber
from tests.support.history import EXPECTED, GUIDANCE, PRESS, publish_expected
from tracker.alerts.subscribers import upsert_subscriber
from tracker.alerts.tokens import UNSUBSCRIBE, make_manage_token, make_token
from tracker.settings import SubscriberConfig


def test_open_a_redline_switch_views_and_export(shared_site, page, tmp_path):
    history, base = shared_site
    page.goto(f"{base}/")
    page.get_by_role("link", name="Changes").first.click()
    page.goto(f"{base}/documents/{history.documents[GUIDANCE]}/diff")
    assert page.locator("ins", has_text="not").count() >= 1
    assert "negation added" in page.content()

    page.get_by_role("link", name="Side by side").click()
    side = page.locator("table.rl-side")
    assert side.count() == 1
    assert side.locator("del").count() + side.locator("ins").count() >= 1

    page.get_by_role("link", name="Inline").click()
    assert page.locator("table.rl-side").count() == 0
    page.get_by_role("link", name="Only substantive").click()
    assert "negation added" in page.content()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export as HTML file").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    exported = saved.read_text(encoding="utf-8")
    assert saved.name.startswith("redline-") and "<ins" in exported and "Severity: substantive" in exported


def test_injected_markup_shows_as_text(shared_site, page):
    history, base = shared_site
    page.goto(f"{base}/documents/{history.documents[PRESS]}/diff")
    assert "<script>alert(1)</script>" in page.inner_text("body")
    assert page.locator("main img").count() == 0  # the onerror image stayed text
    page.goto(f"{base}/documents/{history.documents[PRESS]}/diff?view=side")
    assert "onerror=alert(1)" in page.inner_text("body")


def test_manage_a_subscription_then_unsubscribe(site, page):
    history, base = site
    with session_scope(history.engine) as session:
        subscriber = upsert_subscriber(session, SubscriberConfig("legal@example.com"))
        manage = make_manage_token("test-secret", subscriber)
        unsubscribe = make_token("test-secret", subscriber, UNSUBSCRIBE)
    page.goto(f"{base}/subscription/{manage}")
    page.locator("input[name=digest][value=daily]").check()
    page.locator("input[name=min_severity][value=minor]").check()
    page.get_by_role("button", name="Save").click()
    with session_scope(history.engine) as session:
        saved = session.exec(select(Subscriber)).one()
        assert (saved.digest, saved.min_severity, saved.active) == ("daily", "minor", True)

    page.goto(f"{base}/unsubscribe/{unsubscribe}")
    page.get_by_role("button").first.click()
    assert "unsubscribed" in page.inner_text("body").lower()
    with session_scope(history.engine) as session:
        assert session.exec(select(Subscriber)).one().active is False


def test_follow_an_expectation_to_its_thread_and_a_redline(site, page):
    history, base = site
    met_id = publish_expected(history)
    page.goto(f"{base}/")
    page.get_by_role("link", name="GP10 guidance on Ascend chips").click()
    assert page.url == f"{base}/expectations/gp10"
    timeline = page.locator("ol.thread > li")
    assert timeline.count() == 2 and page.locator(f"#event-{met_id}").count() == 1
    assert "First seen: GP10 guidance" in page.locator(f"#event-{met_id}").inner_text()
    page.locator(f"#event-{met_id} a").first.click()
    assert page.url == f"{base}/documents/{history.documents[EXPECTED]}/diff?to=1"
    assert page.locator("ins", has_text="Ascend").count() >= 1
