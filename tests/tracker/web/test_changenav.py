"""The anchors between the changes of a redline page (tracker.web.changenav), on real renders."""

from __future__ import annotations

import re

from tracker.reading.content import Block, Content
from tracker.redline.compute import diff_contents
from tracker.redline.render import render_html, side_by_side_html
from tracker.web.changenav import mark_changes

HOSTILE = '<div class="para changed">"><a href="#x">'


def content(*texts: str, title: str = "Rule") -> Content:
    return Content(title, tuple(Block(text) for text in texts))


OLD = content("One.", "Two.", "Three.", "Four.", "Five.", "Six.")
# Two changes: the second and third paragraphs together (one run), and the sixth.
NEW = content("One.", "Two, amended.", "Three, amended.", "Four.", "Five.", "Six, amended.")


def steps(html: str) -> list[str]:
    return re.findall(r'<(?:div|tr) class="rw-step" id="(change-\d+)"', html)


def test_a_run_of_changed_paragraphs_is_one_change_with_links_to_its_neighbours():
    html, total = mark_changes(render_html(diff_contents(OLD, NEW)))
    assert total == 2 and steps(html) == ["change-1", "change-2"]
    first = html.split('id="change-1"')[1].split("</div>")[0]
    assert "Change 1 of 2" in first and 'href="#change-2"' in first and "Previous change" not in first
    second = html.split('id="change-2"')[1].split("</div>")[0]
    assert "Change 2 of 2" in second and 'href="#change-1"' in second and "Next change" not in second
    # Each anchor sits right before its change's first paragraph.
    assert re.search(r'id="change-1"[^\n]*\n<div class="para changed">Two', html)
    assert re.search(r'id="change-2"[^\n]*\n<div class="para changed">Six', html)


def test_the_side_by_side_table_gets_full_width_rows():
    html, total = mark_changes(side_by_side_html(diff_contents(OLD, NEW)))
    assert total == 2 and steps(html) == ["change-1", "change-2"]
    assert '<tr class="rw-step" id="change-1" tabindex="-1"><td colspan="2">' in html


def test_the_rest_of_the_render_is_left_as_it_was():
    render = render_html(diff_contents(OLD, NEW))
    html, _ = mark_changes(render)
    assert re.sub(r'<div class="rw-step".*?</div>\n', "", html) == render


def test_no_change_no_anchor():
    html, total = mark_changes(render_html(diff_contents(OLD, OLD)))
    assert total == 0 and "rw-step" not in html


def test_fetched_text_that_looks_like_a_paragraph_is_not_one():
    old = content("Intro.", HOSTILE)
    new = content("Intro.", HOSTILE, "Added.")
    html, total = mark_changes(render_html(diff_contents(old, new)))
    assert total == 1 and steps(html) == ["change-1"]
    assert "&lt;div class=&quot;para changed&quot;&gt;" in html
