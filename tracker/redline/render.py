"""Rendering a redline: text, HTML (inline and side by side) and JSON, whole or as an excerpt."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from tracker.redline import style
from tracker.redline.compute import diff_words
from tracker.redline.model import Hunk, Op, OpKind, Redline

__all__ = [
    "anchor_id",
    "excerpt",
    "excerpt_html",
    "hunk_sides",
    "redline_ops",
    "redline_ops_json",
    "render_html",
    "render_text",
    "side_by_side_html",
]


def hunk_sides(hunk: Hunk) -> tuple[bool, bool]:
    """Whether the hunk has text in the old version, in the new one."""
    if hunk.kind == "moved":
        moved_from = bool(hunk.ops) and hunk.ops[0].move == "from"
        return moved_from, not moved_from
    return hunk.kind != "inserted", hunk.kind != "deleted"


def redline_ops(redline: Redline) -> list[Op]:
    """Every op in reading order, with paragraph breaks as "\\n" ops.

    A break is `equal` between paragraphs present in both versions, and an
    insert or delete next to a paragraph only one version has, so that equal +
    delete texts join to the old text and equal + insert texts to the new.
    """
    out: list[Op] = []
    old_started = new_started = False
    for hunk in redline.hunks:
        has_old, has_new = hunk_sides(hunk)
        break_old, break_new = has_old and old_started, has_new and new_started
        if break_old or break_new:
            kind: OpKind = "equal" if break_old and break_new else "delete" if break_old else "insert"
            first = hunk.ops[0] if hunk.ops else Op("equal", "", hunk.section)
            out.append(Op(kind, "\n", first.section, first.move, first.move_id))
        out.extend(hunk.ops)
        old_started = old_started or has_old
        new_started = new_started or has_new
    return out


def redline_ops_json(redline: Redline) -> list[dict]:
    """The contract's `ops`: [{"op", "text", "section"}, …]."""
    return [op.to_json() for op in redline_ops(redline)]


def comparison_json(
    document: dict, old: int | None, new: int, severity: str | None, reasons: Sequence[str], redline: Redline
) -> dict:
    """The contract's diff JSON (`rulewatch diff --format json`, /api/documents/{id}/diff)."""
    return {
        "document": document,
        "from": old,
        "to": new,
        "severity": severity,
        "reasons": list(reasons),
        "ops": redline_ops_json(redline),
    }


# -- rendering ------------------------------------------------------------------


ParaKind = Literal["title", "equal", "changed", "inserted", "deleted", "moved-from", "moved-to", "skip"]
Part = tuple[OpKind, str]


@dataclass
class _Para:
    """One paragraph as shown: its kind, anchor, note and marked-up parts."""

    kind: ParaKind
    section: str = ""
    note: str = ""
    parts: list[Part] = field(default_factory=list)
    hidden: int = 0  # a "skip": how many unchanged paragraphs it stands for


# A long redline (a regulation) shows its changes with this many unchanged paragraphs around
# each, the rest collapsed, as code review tools do; a reader asks for all of it to expand.
COLLAPSE_AFTER = 40  # paragraphs
COLLAPSED_CONTEXT = 2


def default_context(redline: Redline) -> int | None:
    """How many unchanged paragraphs to show around each change: all (None) for a short redline."""
    return COLLAPSED_CONTEXT if len(redline.hunks) > COLLAPSE_AFTER else None


def _paras(redline: Redline, context: int | None) -> list[_Para]:
    paras = []
    if redline.old_title != redline.new_title:
        ops = diff_words(redline.old_title, redline.new_title)
        paras.append(_Para("title", parts=[(op.op, op.text) for op in ops]))
    hunks = redline.hunks
    shown = [True] * len(hunks)
    if context is not None:
        changes = [k for k, h in enumerate(hunks) if h.kind != "equal"]
        shown = [False] * len(hunks)
        for k in changes:
            for near in range(max(0, k - context), min(len(hunks), k + context + 1)):
                shown[near] = True
    for hunk, show in zip(hunks, shown, strict=False):
        if show:
            paras.append(_para(hunk))
        elif paras and paras[-1].kind == "skip":
            paras[-1].hidden += 1
        else:
            paras.append(_Para("skip", hidden=1))
    return paras


def _hidden(para: _Para) -> str:
    return f"… {para.hidden} unchanged paragraph{'s' if para.hidden != 1 else ''}"


def _para(hunk: Hunk) -> _Para:
    if hunk.kind == "moved":
        old, new = hunk.old_block, hunk.new_block
        if hunk.ops[0].move == "from":
            note = f"moved to {new.section}" if new.section else "moved"
            return _Para("moved-from", old.section, note, [("delete", old.text)])
        note = f"moved from {old.section}" if old.section else "moved"
        ops = diff_words(old.text, new.text)
        return _Para("moved-to", new.section, note, [(op.op, op.text) for op in ops])
    return _Para(hunk.kind, hunk.section, parts=[(op.op, op.text) for op in hunk.ops])


_TEXT_PREFIXES = {"inserted": "+ ", "deleted": "- ", "moved-from": "< ", "moved-to": "> "}
_TEXT_MARKS = {"equal": ("", ""), "insert": ("{+", "+}"), "delete": ("[-", "-]")}


def _para_text(para: _Para) -> str:
    if para.kind == "skip":
        return _hidden(para)
    if para.kind in ("equal", "inserted", "deleted", "moved-from"):
        body = "".join(text for _, text in para.parts)
    else:
        body = "".join(_TEXT_MARKS[op][0] + text + _TEXT_MARKS[op][1] for op, text in para.parts)
    if para.kind == "title":
        return "Title: " + body
    if para.kind == "equal":
        return body
    prefix = _TEXT_PREFIXES.get(para.kind, "")
    if para.note:
        prefix += para.note + ": "
    anchor = para.section + ":\n" if para.section else ""
    return anchor + prefix + body


def render_text(redline: Redline, context: int | None = None) -> str:
    """A plain-text redline: [-deleted-] and {+inserted+} inside paragraphs,
    "+ " / "- " for whole paragraphs, "<" / ">" for moves; with `context`, only
    that many unchanged paragraphs around each change ("…" for the rest)."""
    return "\n\n".join(_para_text(p) for p in _paras(redline, context))


_PARA_CLASSES: dict[ParaKind, str] = {
    "title": "title",
    "equal": "equal",
    "changed": "changed",
    "inserted": "inserted",
    "deleted": "deleted",
    "moved-from": "moved moved-from",
    "moved-to": "moved moved-to",
    "skip": "skip",
}


def anchor_id(section: str) -> str:
    """The HTML id of a section's first paragraph, in every HTML view of a redline."""
    return "rl-" + re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def _marked(op: OpKind, text: str) -> str:
    """Escaped text, marked up as inserted or deleted if it is."""
    if op == "insert":
        return f'<ins class="{style.INSERTED}">{html.escape(text)}</ins>'
    if op == "delete":
        return f'<del class="{style.DELETED}">{html.escape(text)}</del>'
    return html.escape(text)


def _span(css_class: str, text: str) -> str:
    return f'<span class="{css_class}">{html.escape(text)}</span> '


def _heading(para: _Para) -> str:
    """What goes before a paragraph's text: "Title:", its section, its move note."""
    out = ""
    if para.kind == "title":
        out += _span(style.LABEL, "Title:")
    elif para.kind != "equal" and para.section:
        out += _span(style.SECTION, para.section)
    if para.note:
        out += _span(style.NOTE, para.note)
    return out


def _new_anchor(section: str, ids: set[str] | None) -> str:
    """The section's anchor id if no paragraph took it yet (ids stay unique), else ""."""
    if ids is None or not section or anchor_id(section) in ids:
        return ""
    ids.add(anchor_id(section))
    return anchor_id(section)


def _para_html(para: _Para, ids: set[str] | None) -> str:
    moved = f" {style.MOVED}" if para.kind in ("moved-from", "moved-to") else ""  # shaded inline only
    attrs = f' class="{style.PARAGRAPH} {_PARA_CLASSES[para.kind]}{moved}"'
    if anchor := _new_anchor(para.section, ids):
        attrs += f' id="{html.escape(anchor)}"'
    if para.kind == "skip":
        return f"<div{attrs}>{_hidden(para)}</div>"
    body = "".join(_marked(op, text) for op, text in para.parts)
    return f"<div{attrs}>{_heading(para)}{body}</div>"


def render_html(redline: Redline, context: int | None = None) -> str:
    """An HTML fragment of the redline, every text escaped."""
    ids: set[str] = set()
    body = "\n".join(_para_html(p, ids) for p in _paras(redline, context))
    return f'<div class="{style.REDLINE}">\n{body}\n</div>'


# -- side by side ---------------------------------------------------------------


def side_by_side_html(redline: Redline, context: int | None = None) -> str:
    """An HTML table of the redline, old on the left and new on the right, one row per paragraph.

    The same paragraphs as `render_html`, with the same anchors: each side shows the
    unchanged words and its own deletions (left) or insertions (right). With `context`,
    only that many unchanged paragraphs are kept around each change.
    """
    ids: set[str] = set()
    rows = [_side_row(para, ids) for para in _paras(redline, context)]
    head = '<thead><tr><th scope="col">Old version</th><th scope="col">New version</th></tr></thead>'
    return f'<table class="{style.SIDE_TABLE}">\n{head}\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>"


def _side(para: _Para, keep: OpKind) -> str:
    """One side of a paragraph: its heading, the unchanged words and the parts of kind `keep`."""
    return _heading(para) + "".join(_marked(op, text) for op, text in para.parts if op in ("equal", keep))


def _side_row(para: _Para, ids: set[str]) -> str:
    row_class = f"{style.PARAGRAPH} {_PARA_CLASSES[para.kind]}"
    if para.kind == "skip":
        return f'<tr class="{row_class}"><td colspan="2">{_hidden(para)}</td></tr>'
    anchor = _new_anchor(para.section, ids)
    row_id = f' id="{html.escape(anchor)}"' if anchor else ""
    has_old = para.kind not in ("inserted", "moved-to")
    has_new = para.kind not in ("deleted", "moved-from")
    old_html = _side(para, "delete") if has_old else ""
    new_html = _side(para, "insert") if has_new else ""
    if para.kind == "equal":  # unchanged: the text alone on both sides
        old_html = new_html = "".join(html.escape(text) for _, text in para.parts)
    return (
        f'<tr class="{row_class}"{row_id}>'
        f'<td class="old{"" if old_html else " empty"}">{old_html}</td>'
        f'<td class="new{"" if new_html else " empty"}">{new_html}</td></tr>'
    )


# -- excerpts -------------------------------------------------------------------

_EXCERPT_CONTEXT = 80  # characters of unchanged text kept around an edit


def _clip_parts(parts: list[Part]) -> list[Part]:
    """Shorten long unchanged runs inside a changed paragraph."""
    keep = _EXCERPT_CONTEXT
    out = []
    for k, (op, whole) in enumerate(parts):
        text = whole
        if op == "equal":
            first, last = k == 0, k == len(parts) - 1
            if first and not last and len(whole) > keep:
                text = "…" + whole[-keep:]
            elif last and not first and len(whole) > keep:
                text = whole[:keep] + "…"
            elif not first and not last and len(whole) > 2 * keep + 1:
                text = whole[:keep] + "…" + whole[-keep:]
        out.append((op, text))
    return out


def _cut(para: _Para, chars: int) -> _Para:
    """The paragraph with only its first `chars` characters of text, then "…"."""
    parts = []
    for op, text in para.parts:
        if chars <= 0:
            break
        parts.append((op, text[:chars]))
        chars -= len(text)
    parts.append(("equal", "…"))
    return replace(para, parts=parts)


def _fit(paras: list[_Para], room: int, render: Callable[[_Para], str], sep: int) -> list[_Para]:
    """As many paragraphs as fit in `room` characters once rendered."""
    out: list[_Para] = []
    for para in paras:
        need = len(render(para)) + (sep if out else 0)
        if need <= room:
            out.append(para)
            room -= need
            continue
        room -= sep if out else 0
        lo, hi, best = 0, sum(len(text) for _, text in para.parts), None
        while lo <= hi:  # the longest cut of this paragraph that still fits
            mid = (lo + hi) // 2
            cut = _cut(para, mid)
            if len(render(cut)) <= room:
                best, lo = cut, mid + 1
            else:
                hi = mid - 1
        if best is not None:
            out.append(best)
        break
    return out


def _excerpt_paras(redline: Redline) -> list[_Para]:
    paras = [p for p in _paras(redline, 0) if p.kind != "skip"]
    return [replace(p, parts=_clip_parts(p.parts)) if p.kind != "title" else p for p in paras]


def excerpt(redline: Redline, max_chars: int = 600) -> str:
    """A short plain-text redline of the changed paragraphs only."""
    paras = _fit(_excerpt_paras(redline), max_chars, _para_text, 2)
    return "\n\n".join(_para_text(p) for p in paras)


def excerpt_html(redline: Redline, max_chars: int = 2000) -> str:
    """The excerpt as an escaped HTML fragment of at most `max_chars` characters."""
    start, end = f'<div class="{style.REDLINE} {style.EXCERPT}">\n', "\n</div>"
    room = max_chars - len(start) - len(end)
    paras = _fit(_excerpt_paras(redline), room, lambda p: _para_html(p, None), 1)
    if not paras:
        return ""
    return start + "\n".join(_para_html(p, None) for p in paras) + end
