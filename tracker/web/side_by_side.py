"""Views of a redline for the review page: side by side, only substantive, changed sections.

The inline view is tracker.redline.render.render_html. The side-by-side view is built here
from the same hunks: one table row per paragraph, the old text with its
deletions on the left, the new text with its insertions on the right. Every
piece of fetched text is escaped with html.escape.
"""

from __future__ import annotations

import html

# _anchor_id gives the section ids render_html uses; the side view and the list of
# changed sections must link to exactly those.
from tracker.redline.compute import diff_words
from tracker.redline.model import Hunk, Op, Redline
from tracker.redline.render import _anchor_id
from tracker.severity import assess


def substantive_only(redline: Redline) -> Redline:
    """The redline with each change that is not substantive by itself turned into unchanged text.

    Every changed paragraph, and the title, is judged alone by the rules that judge
    the whole change. Rendered with context=0, only the paragraphs whose own change
    is substantive remain; cosmetic and minor edits fold away with the unchanged text.
    """
    old_title, new_title = redline.old_title, redline.new_title
    if old_title != new_title and assess(Redline(old_title, new_title, ())).severity != "substantive":
        old_title = new_title
    hunks = tuple(hunk if hunk.kind == "equal" or _substantive(hunk) else _unchanged(hunk) for hunk in redline.hunks)
    return Redline(old_title, new_title, hunks)


def _substantive(hunk: Hunk) -> bool:
    # A non-empty title on both sides: the hunk is judged as an edit, never as a "first version".
    return assess(Redline("-", "-", (hunk,))).severity == "substantive"


def _unchanged(hunk: Hunk) -> Hunk:
    block = hunk.new or hunk.old
    return Hunk("equal", hunk.old, hunk.new, (Op("equal", block.text, block.section),))


def changed_sections(redline: Redline) -> list[tuple[str, str]]:
    """(section, anchor id) of each section with a change, in document order."""
    seen: dict[str, str] = {}
    for hunk in redline.hunks:
        if hunk.kind != "equal" and hunk.section and hunk.section not in seen:
            seen[hunk.section] = _anchor_id(hunk.section)
    return list(seen.items())


# -- side by side ---------------------------------------------------------------------


def side_by_side_html(redline: Redline, context: int | None = None) -> str:
    """An HTML table of the redline, old on the left and new on the right, aligned per paragraph.

    With `context`, only that many unchanged paragraphs are kept around each change.
    """
    rows = []
    if redline.old_title != redline.new_title:
        ops = diff_words(redline.old_title, redline.new_title)
        label = '<span class="rl-label">Title:</span> '
        rows.append(_row("title", "", label + _side(ops, "delete"), label + _side(ops, "insert")))
    ids: set[str] = set()
    skipping = False
    for hunk, shown in zip(redline.hunks, _shown(redline.hunks, context), strict=False):
        if shown:
            rows.append(_hunk_row(hunk, ids))
        elif not skipping:
            rows.append('<tr class="para skip"><td colspan="2">…</td></tr>')
        skipping = not shown
    head = '<thead><tr><th scope="col">Old version</th><th scope="col">New version</th></tr></thead>'
    return f'<table class="rl-side">\n{head}\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>"


def _shown(hunks: tuple[Hunk, ...], context: int | None) -> list[bool]:
    if context is None:
        return [True] * len(hunks)
    shown = [False] * len(hunks)
    for k, hunk in enumerate(hunks):
        if hunk.kind != "equal":
            for near in range(max(0, k - context), min(len(hunks), k + context + 1)):
                shown[near] = True
    return shown


def _hunk_row(hunk: Hunk, ids: set[str]) -> str:
    anchor = ""
    if hunk.section and _anchor_id(hunk.section) not in ids:  # the first paragraph of a section
        ids.add(_anchor_id(hunk.section))
        anchor = _anchor_id(hunk.section)
    label = f'<span class="rl-section">{html.escape(hunk.section)}</span> ' if hunk.section else ""
    old, new = hunk.old, hunk.new
    if hunk.kind == "equal":
        return _row("equal", anchor, html.escape(old.text), html.escape(new.text))
    if hunk.kind == "changed":
        return _row("changed", anchor, label + _side(hunk.ops, "delete"), label + _side(hunk.ops, "insert"))
    if hunk.kind == "inserted":
        return _row("inserted", anchor, "", label + _marked("insert", new.text))
    if hunk.kind == "deleted":
        return _row("deleted", anchor, label + _marked("delete", old.text), "")
    # moved: one row at the old place (deleted there), one at the new place (word diff of the move)
    if hunk.ops[0].move == "from":
        note = _note(f"moved to {new.section}" if new.section else "moved")
        return _row("moved moved-from", anchor, label + note + _marked("delete", old.text), "")
    note = _note(f"moved from {old.section}" if old.section else "moved")
    return _row("moved moved-to", anchor, "", label + note + _side(diff_words(old.text, new.text), "insert"))


def _row(kind: str, anchor: str, old_html: str, new_html: str) -> str:
    row_id = f' id="{html.escape(anchor)}"' if anchor else ""
    return (
        f'<tr class="para {kind}"{row_id}>'
        f'<td class="old{"" if old_html else " empty"}">{old_html}</td>'
        f'<td class="new{"" if new_html else " empty"}">{new_html}</td></tr>'
    )


def _side(ops, keep: str) -> str:
    """One side of a word diff: the unchanged words and the ops of kind `keep` ("delete" or "insert")."""
    return "".join(_marked(op.op, op.text) for op in ops if op.op in ("equal", keep))


def _marked(op: str, text: str) -> str:
    if op == "insert":
        return f'<ins class="rl-ins">{html.escape(text)}</ins>'
    if op == "delete":
        return f'<del class="rl-del">{html.escape(text)}</del>'
    return html.escape(text)


def _note(text: str) -> str:
    return f'<span class="rl-note">{html.escape(text)}</span> '
