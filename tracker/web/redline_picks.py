"""What the review page picks from a redline: only its substantive changes, its changed sections.

Both views of a redline (inline and side by side) are rendered by tracker.redline.render;
what is picked here needs the severity rules, which sit above the redline.
"""

from __future__ import annotations

from tracker.redline.model import Hunk, Op, Redline

# anchor_id gives the section ids both views use; the list of changed sections links to those.
from tracker.redline.render import anchor_id
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
    block = hunk.new_block if hunk.new is not None else hunk.old_block
    return Hunk("equal", hunk.old, hunk.new, (Op("equal", block.text, block.section),))


def changed_sections(redline: Redline) -> list[tuple[str, str]]:
    """(section, anchor id) of each section with a change, in document order."""
    seen: dict[str, str] = {}
    for hunk in redline.hunks:
        if hunk.kind != "equal" and hunk.section and hunk.section not in seen:
            seen[hunk.section] = anchor_id(hunk.section)
    return list(seen.items())
