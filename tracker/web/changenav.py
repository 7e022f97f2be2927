"""Steps between the changes of a redline page: each change gets an anchor, with links to the
previous and the next one, so a reader moves from change to change without a script (the page's
script, static/rulewatch-changes.js, adds the j/k and n/p keys on top of these anchors).

A change is a run of changed paragraphs (title, changed, inserted, deleted, moved) with no
unchanged or collapsed paragraph between them. Its anchor is a line of its own just before its
first paragraph, `id="change-N"`: a `<div>` in the inline view, a full-width row in the side by
side table. The redline's own markup (tracker.redline.render) is left as it is.
"""

from __future__ import annotations

import re

STEP_CLASS = "rw-step"

# The opening tag of each paragraph the renderer writes. Every fetched text in the fragment is
# escaped, so a "<" there is always the renderer's own.
_PARAGRAPH = re.compile(r'<(div|tr) class="para ([a-z-]+)')
_UNCHANGED = {"equal", "skip"}


def change_id(number: int) -> str:
    return f"change-{number}"


def mark_changes(fragment: str) -> tuple[str, int]:
    """The rendered redline with an anchor before each change, and how many changes it has."""
    starts: list[tuple[int, str]] = []
    in_change = False
    for match in _PARAGRAPH.finditer(fragment):
        changed = match.group(2) not in _UNCHANGED
        if changed and not in_change:
            starts.append((match.start(), match.group(1)))
        in_change = changed
    pieces: list[str] = []
    done = 0
    for number, (at, tag) in enumerate(starts, start=1):
        pieces += [fragment[done:at], _step(number, len(starts), in_table=tag == "tr")]
        done = at
    pieces.append(fragment[done:])
    return "".join(pieces), len(starts)


def _step(number: int, total: int, in_table: bool) -> str:
    links = []
    if number > 1:
        links.append(f'<a href="#{change_id(number - 1)}" rel="prev">Previous change</a>')
    if number < total:
        links.append(f'<a href="#{change_id(number + 1)}" rel="next">Next change</a>')
    body = f'<span class="{STEP_CLASS}__label">Change {number} of {total}</span> {" ".join(links)}'.rstrip()
    if in_table:
        return f'<tr class="{STEP_CLASS}" id="{change_id(number)}" tabindex="-1"><td colspan="2">{body}</td></tr>\n'
    return f'<div class="{STEP_CLASS}" id="{change_id(number)}" tabindex="-1">{body}</div>\n'
