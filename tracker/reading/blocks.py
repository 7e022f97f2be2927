"""Raw pieces of text to Blocks: folding what a reader cannot tell apart, labels and sections, volatile lines."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace

from tracker.reading.content import Block, BlockKind

# --- folding ----------------------------------------------------------------

_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        # Invisible: soft hyphen, zero-width spaces and joiners, direction marks, BOM.
        **dict.fromkeys("\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"),
    }
)


def fold(text: str) -> str:
    """Fold what a reader cannot tell apart: NFKC forms, quotes, dashes, whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    # Dropping zero-width characters can bring a combining mark next to its letter: compose again.
    text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())  # splits on the whitespace `\s+` matches in str patterns, in one pass


# --- volatile lines ---------------------------------------------------------

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?"
    rf"(?:{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})"
)
_TIME = (
    r"(?:,?\s*(?:at\s+|t)?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[ap]\.?m\.?)?"
    r"\s*(?:z|utc|gmt|[ecmp][sd]t|[+-]\d{2}:?\d{2})?)?"
)
_VOLATILE_MAX = 200  # longer blocks are content even when they mention a date
_VOLATILE_PATTERNS = (
    # "Last updated May 20, 2025", "Page last reviewed: ...", "This page was last modified ..."
    r"^(?:(?:this\s+)?(?:page|content|site|document)\s+(?:was\s+)?)?"
    r"last\s+(?:updated|modified|reviewed|revised|changed)\b",
    # "Updated: May 20, 2025", "Modified on 2025-05-20"
    rf"^(?:updated|modified|reviewed)(?:\s+on)?\s*:?\s*{_DATE}",
    # "Generated on 2025-05-20", "Retrieved from https://...", "Accessed 5/20/2025"
    rf"^(?:generated|retrieved|accessed|printed)"
    rf"(?:\s+(?:on|at)\b|\s+from\s+https?://|\s*:?\s*{_DATE})",
    # "eCFR content is up to date as of 5/20/2025", "Current as of May 20, 2025"
    rf"\b(?:up to date|current) as of\s+{_DATE}",
    # Counters: "Page views: 1,234", "Visitors: 99", "You are visitor number 12345"
    r"^(?:(?:page\s+)?views?|hits|(?:you are\s+)?visitors?(?:\s+(?:number|no\.|count))?)"
    r"\s*:?\s*#?[\d,]+$",
    r"^[\d,]+\s+(?:page\s+)?(?:views|visits|visitors|hits)$",
    # "Copyright 2024-2025 ...", "© 2025 ..."
    r"^(?:©|copyright)(?:\s*(?:©|copyright))?\s*\d{4}\b",
    # A bare date or timestamp: "May 13, 2025", "2025-05-20T12:00:00Z"
    rf"^{_DATE}{_TIME}$",
)
_VOLATILE = re.compile("|".join(f"(?:{pattern})" for pattern in _VOLATILE_PATTERNS), re.I)


def _is_volatile(text: str) -> bool:
    return len(text) < _VOLATILE_MAX and _VOLATILE.search(text) is not None


# --- labels and sections ----------------------------------------------------

_SECTION_LABEL = re.compile(r"^(?:§|sec\.)\s*(\d+\.\d+[a-z]?)\b", re.I)
# Executive orders and acts: "Section 1.", "Sec. 2.", "SEC. 3." (a number and its period).
_ORDER_SECTION_LABEL = re.compile(r"^(?:sec\.|section)\s*(\d{1,3}[a-z]?)\s*\.(?!\d)", re.I)
_PART_LABEL = re.compile(r"^(?:PART|Part)\s+(\d+)\b")
_PARAGRAPH_LABELS = re.compile(r"^((?:\([A-Za-z0-9]{1,6}\))+)(?=\s|$)")
_TOKEN = re.compile(r"\(([A-Za-z0-9]+)\)")
_ONES = ("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")
_ROMANS = [tens + ones for tens in ("", "x", "xx", "xxx") for ones in _ONES][1:]  # i to xxxix
# CFR paragraph levels: (a) (1) (i) (A) then italic (1) and (i).
_FIRST = {1: "a", 2: "1", 3: "i", 4: "A", 5: "1", 6: "i"}
_LETTER, _ROMAN = 1, 3
_HEADING_MAX = 80  # characters of a plain heading kept in an anchor


def section_label(text: str) -> str:
    if text[:1] not in "§SsPp":
        return ""  # most blocks: no regex run
    if match := _SECTION_LABEL.match(text):
        return f"§ {match.group(1)}"
    if match := _ORDER_SECTION_LABEL.match(text):
        return f"Sec. {match.group(1)}"
    if match := _PART_LABEL.match(text):
        return f"Part {match.group(1)}"
    return ""


def paragraph_tokens(text: str) -> list[str]:
    """The labels a block starts with: "(a)(1) Text" gives ["a", "1"]."""
    match = _PARAGRAPH_LABELS.match(text) if text.startswith("(") else None
    tokens = _TOKEN.findall(match.group(1)) if match else []
    return tokens if all(_candidate_levels(t) for t in tokens) else []


def _candidate_levels(token: str) -> list[int]:
    """The levels a token can stand at, its usual level first; [] if it is no label."""
    if token.isdigit():
        return [2, 5] if len(token) <= 3 else []
    if token.isupper():
        return [4] if len(token) == 1 else []
    letter = [1] if token.islower() and len(token) <= 2 and len(set(token)) == 1 else []  # a, z, aa
    roman = [3, 6] if token in _ROMANS else []
    return letter + roman if len(token) == 1 else roman + letter


def _successor(token: str, level: int) -> str:
    if level in (2, 5):
        return str(int(token) + 1)
    if level in (3, 6):
        index = _ROMANS.index(token) + 1
        return _ROMANS[index] if index < len(_ROMANS) else ""
    return chr(ord(token[0]) + 1) * len(token)  # "a" -> "b", "aa" -> "bb"


def _level(token: str, open_labels: list[tuple[int, str]]) -> int:
    """Read a label's level against the labels still open.

    Deepest level first, a level fits when the token comes next at that level
    ("(b)" after "(a)") or starts the level just below the current one ("(i)"
    right after "(1)"). A roman "(i)" right under a letter starts a roman level
    there, as in the Federal Register's full text ("(c)(i)"), unless it is the
    letter after "(h)". If none fits, the token's usual level.
    """
    candidates = _candidate_levels(token)
    current = dict(open_labels)
    depth = open_labels[-1][0] if open_labels else 0
    for level in sorted(candidates, reverse=True):
        if level in current and _successor(current[level], level) == token:
            return level
        if level == depth + 1 and token == _FIRST[level]:
            return level
    if token == _FIRST[_ROMAN] and depth == _LETTER:
        return _ROMAN
    return candidates[0]


def shortened(text: str, limit: int = _HEADING_MAX) -> str:
    """`text` in at most `limit` characters, cut between words, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if not text[limit - 1].isspace() and space > limit // 2:
        cut = cut[:space]  # not inside a word
    return cut.rstrip(" ,;:-") + "\u2026"


class _Anchor:
    """Where we are: the current section heading and the open paragraph labels.

    A legal heading ("§ 744.23", "Sec. 2", "15 CFR 744.23") takes its labels right
    after it ("§ 744.23(a)"); a plain heading stands apart ("Background, (a)").
    """

    def __init__(self) -> None:
        self.heading = ""
        self.legal = True
        self.open: list[tuple[int, str]] = []  # (level, token), levels increasing
        # Set by push when a later label showed how to read an earlier one: (old, new) anchors.
        self.reread: tuple[str, str] | None = None
        self._before_letter_i: list[tuple[int, str]] | None = None  # open labels before an "(i)" read as a letter
        self._text = ""

    def start_section(self, heading: str, legal: bool = True) -> None:
        self.heading, self.legal, self.open = heading, legal, []
        self._before_letter_i = None
        self._update()

    def push(self, token: str) -> None:
        self.reread = None
        if token == _successor(_FIRST[_ROMAN], _ROMAN) and self._before_letter_i is not None:
            # "(ii)" confirms that the "(i)" before it was roman, not the letter: read it again.
            before, self.open = self._before_letter_i, self._before_letter_i
            old = self._text
            self._push(_FIRST[_ROMAN], _ROMAN if not before or before[-1][0] < _ROMAN else 6)
            self.reread = (old, self._text)
        before = self.open
        level = _level(token, self.open)
        self._push(token, level)
        letter_i = token == _FIRST[_ROMAN] and level == _LETTER
        self._before_letter_i = before if letter_i else None

    def _push(self, token: str, level: int) -> None:
        self.open = [(lv, t) for lv, t in self.open if lv < level] + [(level, token)]
        self._update()

    def _update(self) -> None:
        labels = "".join(f"({t})" for _, t in self.open)
        apart = labels and self.heading and not self.legal
        self._text = f"{self.heading}, {labels}" if apart else self.heading + labels

    def __str__(self) -> str:
        return self._text


def build_blocks(pieces: Iterable[tuple[BlockKind, str]]) -> tuple[Block, ...]:
    """Fold raw (kind, text) pieces into Blocks with labels, sections and volatility."""
    anchor = _Anchor()
    blocks: list[Block] = []
    for kind, raw in pieces:
        if raw.isspace():  # the line breaks between a page's blocks: nothing to fold
            continue
        text = fold(raw)
        if not text:
            continue
        label = section_label(text)
        if label:
            anchor.start_section(label)
        elif tokens := paragraph_tokens(text):
            label = "".join(f"({t})" for t in tokens)
            for token in tokens:
                anchor.push(token)
                if anchor.reread:
                    _reanchor(blocks, *anchor.reread)
        elif kind == "heading":
            anchor.start_section(shortened(text), legal=False)
        blocks.append(Block(text, kind, label, str(anchor), _is_volatile(text)))
    return tuple(blocks)


def _reanchor(blocks: list[Block], old: str, new: str) -> None:
    """Give the last blocks anchored at `old` the anchor `new`."""
    k = len(blocks)
    while k and blocks[k - 1].section == old:
        k -= 1
        blocks[k] = replace(blocks[k], section=new)
