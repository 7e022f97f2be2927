"""GPO inline markup, as the Federal Register API and the eCFR carry it, read as plain text.

Titles and abstracts from the FR API, and eCFR paragraphs, keep GPO's typesetting tags:
`<E T="03">` (emphasis), `<INF>` (subscript), `<SU>` (superscript), `<FTREF/>` (a footnote
reference). A reader sees their text:

- emphasis keeps its words: `<E T="03">Entity List</E>` is "Entity List";
- a subscript joins its text: `SO<INF>2</INF>` is "SO2";
- a superscript is marked, so `10<SU>6</SU>` never reads as "106": "10^6";
- a footnote reference, and the number a footnote starts with, read "[1]".
"""

from __future__ import annotations

import re
from collections.abc import Collection

from lxml import etree

# Only GPO's own inline tags: any other "<" in a title ("fewer than <5 percent") is text.
# Innermost first ([^<]* inside), so a pass is linear even on hostile input.
_INLINE = re.compile(r"<(E|I|B|INF|SU|FR|AC)(?:\s[^<>]*)?>([^<]*)</\1\s*>")
_EMPTY = re.compile(r"<FTREF\s*/>")
MAX_NESTING = 8  # GPO nests inline tags one or two deep; deeper is left as it is


def plain(text: str) -> str:
    """A string with GPO inline tags (an FR API title or abstract) as plain text."""
    for _ in range(MAX_NESTING):  # nested tags come off one level per pass
        text, found = _INLINE.subn(_render_match, text)
        if not found:
            break
    return _EMPTY.sub("", text)


def _render_match(match: re.Match) -> str:
    tag, inner = match.group(1), match.group(2)
    return f"^{inner.strip()}" if tag == "SU" else inner


def element_text(element: etree._Element, skip: Collection[str] = ()) -> str:
    """An XML element's text with its inline GPO tags rendered, as `plain` does for strings.

    Elements tagged as in `skip` are left out (with all inside them): the caller reads them
    on their own, so nested table cells are not read once per level of nesting.
    """
    pieces = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag not in skip:
            pieces.append(_render_element(child, skip))
        pieces.append(child.tail or "")
    return "".join(pieces)


def _render_element(element: etree._Element, skip: Collection[str]) -> str:
    inner = element_text(element, skip)
    if element.tag != "SU":
        return inner
    following = element.getnext()
    in_footnote = next(element.iterancestors("FTNT"), None) is not None
    footnote = in_footnote or (following is not None and following.tag == "FTREF")
    return f"[{inner.strip()}]" if footnote else f"^{inner.strip()}"
