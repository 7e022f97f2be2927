"""Reading a long redline in Chromium, under the site's real Content-Security-Policy: the keys
and links between changes, the collapsed unchanged context, the same without JavaScript, and
the printed page (no navigation; insertions and deletions told apart without colour)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS


@pytest.fixture
def reader(browser, desk):
    """A page of the long rule's redline, and the script errors it had (there must be none)."""
    context = browser.new_context(viewport={"width": 1280, "height": 700})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(desk.url(f"/documents/{desk.long_rule}/diff"))
    yield page
    context.close()
    assert errors == []


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement.id")


def test_keys_move_between_changes(reader):
    page = reader
    assert page.locator(".rw-step").count() == 3
    assert page.locator(".rw-keys").is_visible()  # the script runs under the policy and shows the keys
    page.keyboard.press("j")
    assert focused_id(page) == "change-1" and page.url.endswith("#change-1")
    page.keyboard.press("j")
    assert focused_id(page) == "change-2"
    page.keyboard.press("n")
    assert focused_id(page) == "change-3"
    page.keyboard.press("j")  # no change after the last one: it stays
    assert focused_id(page) == "change-3"
    page.keyboard.press("k")
    assert focused_id(page) == "change-2" and page.url.endswith("#change-2")
    page.keyboard.press("p")
    assert focused_id(page) == "change-1"
    assert page.locator(".rw-changenav__status").inner_text() == "Change 1 of 3"
    box = page.locator("#change-1").bounding_box()
    assert box is not None and 0 <= box["y"] < 700  # in view

    # The links above the redline move from where the reader is, as the keys do.
    page.locator(".rw-changenav").get_by_role("link", name="Next change").click()
    assert focused_id(page) == "change-2"
    page.locator(".rw-changenav").get_by_role("link", name="Previous change").click()
    assert focused_id(page) == "change-1"


def test_keys_are_left_alone_while_typing_or_with_a_modifier(reader):
    page = reader
    page.keyboard.press("Control+j")
    assert focused_id(page) != "change-1"
    page.evaluate("() => { const i = document.createElement('input'); i.id = 'typing'; document.body.append(i); }")
    page.focus("#typing")
    page.keyboard.type("jk")
    assert focused_id(page) == "typing" and page.input_value("#typing") == "jk"


def test_each_change_links_to_its_neighbours(reader):
    page = reader
    first, second, third = (page.locator(f"#change-{n}") for n in (1, 2, 3))
    assert first.inner_text().startswith("Change 1 of 3")
    assert first.get_by_role("link").all_inner_texts() == ["Next change"]
    assert second.get_by_role("link").all_inner_texts() == ["Previous change", "Next change"]
    assert third.get_by_role("link").all_inner_texts() == ["Previous change"]
    second.get_by_role("link", name="Next change").click()
    assert page.url.endswith("#change-3")
    # Each anchor comes right before its change: the paragraph after it carries the change.
    assert "as amended" in page.locator("#change-1 + .para").inner_text()
    assert "revised" in page.locator("#change-2 + .para").inner_text()
    assert page.locator("#change-3 + .para del").inner_text().startswith("(70)")


def test_without_javascript_the_links_still_lead_from_change_to_change(browser, desk):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(desk.url(f"/documents/{desk.long_rule}/diff?view=side"))
    assert not page.locator(".rw-keys").is_visible()  # no keys promised when they cannot work
    page.locator(".rw-changenav").get_by_role("link", name="Next change").click()
    assert page.url.endswith("#change-1")
    page.locator("#change-1").get_by_role("link", name="Next change").click()
    assert page.url.endswith("#change-2")
    page.locator("#change-2").get_by_role("link", name="Next change").click()
    assert page.url.endswith("#change-3")
    assert page.evaluate("() => document.querySelector(':target').id") == "change-3"
    context.close()


def test_unchanged_context_is_collapsed_and_expands(reader):
    page = reader
    skips = page.locator(".para.skip")
    assert skips.all_inner_texts() == [
        "… 9 unchanged paragraphs",
        "… 25 unchanged paragraphs",
        "… 25 unchanged paragraphs",
        "… 7 unchanged paragraphs",
    ]
    assert skips.first.is_visible()
    assert page.get_by_text("(20) Paragraph number 20").count() == 0
    page.get_by_role("link", name="Show the whole document.").click()
    assert "context=all" in page.url
    assert page.get_by_text("(20) Paragraph number 20").count() == 1
    assert page.locator(".rw-step").count() == 3  # the same three changes, in the whole document


def test_printed_redline(reader):
    page = reader
    page.emulate_media(media="print")
    for hidden in ("header.rw-header", "nav.views", "nav.sections", ".rw-changenav__steps", "footer", ".rw-step a"):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.locator("h1").is_visible() and page.locator(".reasons").is_visible()
    assert page.locator("#change-2").is_visible()  # "Change 2 of 3" stays, as a label
    style = "(e) => { const s = getComputedStyle(e); return [s.textDecorationLine, s.color, s.backgroundColor]; }"
    inserted = page.locator(".rl-redline ins").first.evaluate(style)
    deleted = page.locator(".rl-redline del").first.evaluate(style)
    assert inserted[0] == "underline" and deleted[0] == "line-through"
    assert page.locator(".rl-redline .para").first.evaluate("(e) => getComputedStyle(e).breakInside") == "avoid"
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "redline-print.pdf"), format="Letter")
    assert pdf.startswith(b"%PDF")
