"""The side-by-side view, the "only substantive" filter and the changed-section list, on small redlines."""

from __future__ import annotations

import re

from tracker.reading.content import Block, Content
from tracker.redline.compute import diff_contents
from tracker.redline.render import render_html, side_by_side_html
from tracker.web.redline_picks import changed_sections, substantive_only

MOVED = "Exporters must keep records of every transfer for five years."


def content(*texts: str, title: str = "Rule") -> Content:
    blocks = tuple(Block(text, section=f"§ 1.{k}" if k else "") for k, text in enumerate(texts))
    return Content(title, blocks)


def cells(html: str) -> list[tuple[str, str, str]]:
    """(row class, old cell, new cell) of each row."""
    rows = re.findall(r'<tr class="([^"]+)"[^>]*>(.*?)</tr>', html)
    out = []
    for kind, body in rows:
        found = re.findall(r"<td[^>]*>(.*?)</td>", body)
        out.append((kind, *([*found, "", ""])[:2]))
    return out


def test_side_by_side_rows_for_each_kind_of_hunk():
    old = content("Intro.", MOVED, "Shall apply.", "A paragraph that goes away entirely now.", "End one.", "End two.")
    new = content("Intro.", "Shall not apply.", "A brand new paragraph appears here.", "End one.", "End two.", MOVED)
    table = side_by_side_html(diff_contents(old, new))
    rows = cells(table)
    kinds = [kind for kind, _, _ in rows]
    assert "para moved moved-from" in kinds and "para moved moved-to" in kinds
    moved_from = next(r for r in rows if r[0] == "para moved moved-from")
    assert "moved to" in moved_from[1] and f'<del class="rl-del">{MOVED}</del>' in moved_from[1] and not moved_from[2]
    moved_to = next(r for r in rows if r[0] == "para moved moved-to")
    assert not moved_to[1] and "moved from" in moved_to[2]
    assert any(k == "para equal" and o == n == "Intro." for k, o, n in rows)
    changed = next(r for r in rows if r[0] == "para changed")
    assert "Shall apply." in changed[1] and '<ins class="rl-ins">not </ins>' in changed[2]
    deleted = next(r for r in rows if r[0] == "para deleted")
    assert '<del class="rl-del">A paragraph that goes away entirely now.</del>' in deleted[1] and not deleted[2]
    inserted = next(r for r in rows if r[0] == "para inserted")
    assert not inserted[1] and '<ins class="rl-ins">A brand new paragraph appears here.</ins>' in inserted[2]
    assert "<ins" not in "".join(o for _, o, _ in rows) and "<del" not in "".join(n for _, _, n in rows)


def test_side_by_side_escapes_and_anchors_like_the_inline_view():
    old = content("x", "Plain <b>text</b> stays.")
    new = content("x", "Plain <b>text</b> stays, <script>alert(1)</script>.")
    redline = diff_contents(old, new)
    table = side_by_side_html(redline)
    assert "<script>" not in table and "&lt;script&gt;" in table and "&lt;b&gt;" in table
    inline_ids = set(re.findall(r'id="([^"]+)"', render_html(redline)))
    assert set(re.findall(r'id="([^"]+)"', table)) == inline_ids
    assert changed_sections(redline) == [("§ 1.1", "rl-1-1")] and "rl-1-1" in inline_ids


def test_a_moved_paragraph_is_labelled_by_its_own_place_on_each_side():
    # MOVED goes from § 1.1 (old) to § 1.5 (new); each row names the section it stands in.
    old = content("Intro.", MOVED, "Two.", "Three.", "Four.", "Five.")
    new = content("Intro.", "Two.", "Three.", "Four.", "Five.", MOVED)
    redline = diff_contents(old, new)
    rows = cells(side_by_side_html(redline))
    moved_from = next(r for r in rows if r[0] == "para moved moved-from")
    moved_to = next(r for r in rows if r[0] == "para moved moved-to")
    assert moved_from[1].startswith('<span class="rl-section">§ 1.1</span> <span class="rl-note">moved to § 1.5</span>')
    assert moved_to[2].startswith('<span class="rl-section">§ 1.5</span> <span class="rl-note">moved from § 1.1</span>')
    inline = render_html(redline)
    assert '<span class="rl-section">§ 1.1</span> <span class="rl-note">moved to § 1.5</span>' in inline


def test_context_folds_unchanged_rows():
    old = content("a one", "b two", "c three", "d four", "e five")
    new = content("a one", "b two", "c three changed", "d four", "e five")
    rows = cells(side_by_side_html(diff_contents(old, new), context=0))
    assert [kind for kind, _, _ in rows][:1] == ["para skip"] and [k for k, _, _ in rows].count("para skip") == 2
    assert [kind for kind, _, _ in rows if kind != "para skip"] == ["para changed"]


def test_substantive_only_keeps_substantive_paragraphs():
    old = content("Exporters may ship.", "The form is recieved by mail.", "Unchanged text here.")
    new = content("Exporters may not ship.", "The form is received by mail.", "Unchanged text here.")
    redline = diff_contents(old, new)
    kept = substantive_only(redline)
    assert [h.kind for h in redline.hunks] == ["changed", "changed", "equal"]
    assert [h.kind for h in kept.hunks] == ["changed", "equal", "equal"]  # the spelling fix is minor
    assert changed_sections(kept) == []  # the first block has no section label
    assert kept.hunks[0] is redline.hunks[0]


def test_substantive_only_title():
    old, new = content("Same.", title="Rule  on chips"), content("Same.", title="Rule on chips")
    assert not substantive_only(diff_contents(old, new)).changed  # whitespace in the title
    old, new = content("Same.", title="Rule on chips"), content("Same.", title="Rule on all chips")
    assert substantive_only(diff_contents(old, new)).changed
