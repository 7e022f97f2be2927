"""Turn fetched bodies (HTML, plain text, PDF) into normalized `Content`.

Every path produces raw (kind, text) pieces and hands them to `_build_blocks`,
which folds typography, reads section and paragraph labels and marks volatile
lines. The output is deterministic: the same input always gives the same blocks,
so a version is stored only when what a reader sees has changed.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import replace
from typing import Iterable
from urllib.parse import quote, urldefrag, urljoin, urlsplit

import charset_normalizer
import pypdf
from cssselect import HTMLTranslator, SelectorError
from lxml import etree

from tracker.model import Block, Content


class SelectorNotFound(ValueError):
    """The configured CSS selector matched nothing on the page."""

    def __init__(self, selector: str):
        self.selector = selector
        super().__init__(
            f"CSS selector {selector!r} matched nothing on the page; "
            "the page layout may have changed"
        )


class UnreadableDocument(ValueError):
    """A document that cannot be read: a damaged PDF, a page nested too deep or too big."""


# --- decoding ---------------------------------------------------------------

_BOMS = [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")  # what "surrogateescape" makes of undecodable bytes
_DECODED_NON_ASCII = re.compile("[^\x00-\x7f\ufffd\udc80-\udcff]")
# A declared charset plainly does not fit when bytes fail to decode in at least this many
# places, ten times as many as the non-ASCII characters it did decode. (One bad byte makes
# one place, even where it breaks the bytes of a character around it.)
_MISFIT_PLACES = 2
_MISFIT_RATIO = 10


def decode(body: bytes, declared_charset: str | None) -> str:
    """Bytes to text by the charset the document declares: its BOM, the HTTP header, its
    <meta>, else UTF-8. Bytes that do not decode become U+FFFD, each on its own place, so
    one bad byte never changes how the rest reads; the charset is detected only when the
    declared ones plainly do not fit the bytes.
    """
    for mark, name in _BOMS:
        if body.startswith(mark):
            return body[len(mark) :].decode(name, "replace")
    if (utf8 := _plainly_utf8(body)) is not None:
        return utf8
    fallback = None
    for label in (declared_charset, _meta_charset(body), "utf-8"):
        decoded = _decode_as(body, label) if label else None
        if decoded is None:
            continue
        text, fits = decoded
        if fits:
            return text.removeprefix("\ufeff")
        fallback = fallback if fallback is not None else text
    try:
        match = charset_normalizer.from_bytes(body).best()
    except Exception:  # detection is best effort: it must never fail a fetch
        match = None
    text = str(match) if match is not None else fallback
    return text.removeprefix("\ufeff")


def _plainly_utf8(body: bytes) -> str | None:
    """The body as UTF-8 when it is valid UTF-8 with multi-byte characters in it, whatever
    its header says: 8-bit text that also decodes as UTF-8 is vanishingly rare, while a UTF-8
    page under a server's default `charset=ISO-8859-1` is common, and read as Latin-1 its
    "can’t" would become "canâ€™t"."""
    if body.isascii() or body.count(b"\x00") * 10 > len(body):  # ASCII, or UTF-16 markup
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_as(body: bytes, label: str) -> tuple[str, bool] | None:
    """(text with undecodable bytes replaced, whether the charset fits the bytes), or None
    for a label that is no text charset."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        if name in ("iso8859-1", "ascii"):
            name = "cp1252"  # browsers read both labels as windows-1252 (curly quotes in 0x80-0x9f)
        escaped = body.decode(name, "surrogateescape")
    except (LookupError, UnicodeError, ValueError, TypeError):  # unknown, not a text codec, unusable
        return None
    if name == "cp1252":
        # Its five unassigned bytes are the C1 controls of the same number, as in browsers.
        return _ESCAPED_BYTES.sub(lambda m: _latin1(m.group()), escaped), True
    bad = len(_ESCAPED_BYTES.findall(escaped))  # places
    text = body.decode(name, "replace") if bad else escaped
    if name.startswith(("utf-16", "utf-32")) and body.count(b"\x00") * 10 < len(body):
        return text, False  # UTF-16 markup is half NUL bytes; these bytes are 8-bit text
    if text.count("\x00") * 10 > len(text):
        return text, False  # UTF-16 read as an 8-bit charset
    misfit = bad >= _MISFIT_PLACES and bad > _MISFIT_RATIO * len(_DECODED_NON_ASCII.findall(text))
    return text, not misfit


def _latin1(escaped: str) -> str:
    return escaped.encode("utf-8", "surrogateescape").decode("latin-1")


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:2048])
    if not match:
        return None
    label = match.group(1).decode("ascii")
    # A page we could read as ASCII to find this tag is not UTF-16 (the HTML spec's rule).
    return "utf-8" if label.lower().startswith("utf-16") else label


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
_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Fold what a reader cannot tell apart: NFKC forms, quotes, dashes, whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    # Dropping zero-width characters can bring a combining mark next to its letter: compose again.
    text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub(" ", text).strip()


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


def _section_label(text: str) -> str:
    if text[:1] not in "§SsPp":
        return ""  # most blocks: no regex run
    if match := _SECTION_LABEL.match(text):
        return f"§ {match.group(1)}"
    if match := _ORDER_SECTION_LABEL.match(text):
        return f"Sec. {match.group(1)}"
    if match := _PART_LABEL.match(text):
        return f"Part {match.group(1)}"
    return ""


def _paragraph_tokens(text: str) -> list[str]:
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


def _shortened(text: str, limit: int = _HEADING_MAX) -> str:
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


def _build_blocks(pieces: Iterable[tuple[str, str]]) -> tuple[Block, ...]:
    """Fold raw (kind, text) pieces into Blocks with labels, sections and volatility."""
    anchor = _Anchor()
    blocks: list[Block] = []
    for kind, raw in pieces:
        text = fold(raw)
        if not text:
            continue
        label = _section_label(text)
        if label:
            anchor.start_section(label)
        elif tokens := _paragraph_tokens(text):
            label = "".join(f"({t})" for t in tokens)
            for token in tokens:
                anchor.push(token)
                if anchor.reread:
                    _reanchor(blocks, *anchor.reread)
        elif kind == "heading":
            anchor.start_section(_shortened(text), legal=False)
        blocks.append(Block(text, kind, label, str(anchor), _is_volatile(text)))
    return tuple(blocks)


def _reanchor(blocks: list[Block], old: str, new: str) -> None:
    """Give the last blocks anchored at `old` the anchor `new`."""
    k = len(blocks)
    while k and blocks[k - 1].section == old:
        k -= 1
        blocks[k] = replace(blocks[k], section=new)


# --- HTML -------------------------------------------------------------------

# Browsers stop nesting at 512 levels (Blink's parser puts deeper elements beside their
# parent) and lxml's own tree builder refuses more than 256 unless told otherwise, so no
# page a reader sees is deeper. Large real pages (the eCFR's Entity List) hold tens of
# thousands of elements, and an element a few dozen attributes.
MAX_DEPTH = 512
MAX_ELEMENTS = 200_000
MAX_ATTRIBUTES = 1_000  # lxml's tree builder checks each attribute against the others'


class _ShapeCounter:
    """An lxml parser target that follows depth and size, and stops at the caps."""

    def __init__(self) -> None:
        self.depth = self.elements = 0

    def start(self, tag, attrib) -> None:
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_DEPTH:
            raise UnreadableDocument(f"the page is nested deeper than {MAX_DEPTH} levels; not read")
        if self.elements > MAX_ELEMENTS:
            raise UnreadableDocument(f"the page has more than {MAX_ELEMENTS:,} elements; not read")
        if len(attrib) > MAX_ATTRIBUTES:
            raise UnreadableDocument(f"an element of the page has more than {MAX_ATTRIBUTES:,} attributes; not read")

    def end(self, tag) -> None:
        self.depth -= 1

    def close(self) -> None:
        return None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def check_page_shape(html: str) -> None:
    """UnreadableDocument when the page is past the caps (depth, elements, attributes), read from
    lxml's parser events alone, which build no tree: call it before building any tree of the page."""
    try:
        counter = etree.HTMLParser(target=_ShapeCounter(), recover=True)
        counter.feed(_LONE_SURROGATE.sub("\ufffd", html))
        counter.close()
    except etree.LxmlError as exc:  # not seen in recover mode; never a page read in part
        raise UnreadableDocument(f"the page could not be parsed: {exc}") from exc


def _tree(html: str) -> etree._Element | None:
    """The page's element tree, comments and processing instructions left out; None if empty.

    A page past the caps is refused first, from lxml's parser events, which build no tree.
    """
    html = _LONE_SURROGATE.sub("\ufffd", html)  # lxml cannot take them
    check_page_shape(html)
    try:
        parser = etree.HTMLParser(recover=True, huge_tree=True, remove_comments=True, remove_pis=True)
        parser.feed(html)
        return parser.close()
    except etree.LxmlError as exc:  # not seen in recover mode; never a page read in part
        raise UnreadableDocument(f"the page could not be parsed: {exc}") from exc


# Accordions (USWDS FAQs on bis.gov) are content: a question in a button, the answer `hidden`.
_CHROME_TAGS = frozenset(
    "head script style noscript template svg iframe object embed input select textarea "
    "option datalist label nav aside".split()
)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo"})
_ARTICLES = frozenset({"main", "article", "section"})  # a header or footer inside one is its own
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html "
    "legend li main nav ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# "social-links", "shareButtons", but not "socialist" or "shared-services"
_BOILERPLATE = re.compile(
    r"breadcrumb|cookie|skip-?(?:link|nav|to)|(?:^|[-_\s])(?:social|share|sharing)(?-i:(?![a-z]))", re.I
)
_BOILERPLATE_MAX = 1000  # chars: a matching class on a big wrapper must not take the content with it
_SKIP_LINK = re.compile(r"^\s*skip\s+(?:to|navigation)", re.I)
_SKIP_LINK_STRINGS = 64  # a skip link's text is read from at most this many of its strings
_CSS = HTMLTranslator()

# Each step below walks the tree once, iteratively: none searches a subtree, the
# siblings or the ancestors once per element. Sets of elements hold the elements
# themselves, so lxml hands out the same Python object for a node every time.


def normalize_html(html: str, selector: str | None = None, base_url: str = "", exclude: str | None = None) -> Content:
    """The readable content of an HTML page, narrowed to `selector` when given; the
    elements `exclude` matches (a CSS selector) are left out, as page chrome is."""
    root = _tree(html)
    if root is None:
        if selector:
            raise SelectorNotFound(selector)
        return Content("", ())
    title = _html_title(root)
    excluded = set(_select(root, exclude)) if exclude else set()
    dropped: set = set()  # elements left out, with everything inside them (not their tails)
    if selector:
        matched = set(_select(root, selector))
        if not matched:
            raise SelectorNotFound(selector)
        regions = []
        for region, in_article in _outermost(root, matched):
            dropped |= _chrome(region, in_article, excluded)[0]
            regions.append(region)
    else:
        dropped, landmarks = _chrome(root, False, excluded)
        regions = [_main_region(root, landmarks)]
    pieces = [piece for region in regions for piece in _pieces(region, dropped)]
    return Content(title, _build_blocks(pieces), _links(regions, dropped, base_url))


def _html_title(root) -> str:
    """The page's <title>, or its <h1> where there is no title or the title is generic."""
    title = h1 = None
    site_names = set()
    stack = [root]
    while stack and (title is None or h1 is None):
        element = stack.pop()
        if element.tag == "svg":
            continue  # an icon's <title> names the icon
        if element.tag == "title" and title is None:
            title = element
        elif element.tag == "h1" and h1 is None:
            h1 = element
        elif element.tag == "meta" and _SITE_NAME_META & {element.get("property"), element.get("name")}:
            site_names.add(fold(element.get("content") or "").casefold())
        stack.extend(element[::-1])
    title_text = _text_of(title) if title is not None else ""
    h1_text = _text_of(h1) if h1 is not None else ""
    if not title_text or (h1_text and _is_generic_title(title_text, h1_text, site_names)):
        return h1_text
    return title_text


_SITE_NAME_META = frozenset({"og:site_name", "application-name"})
_TITLE_PARTS = re.compile(r"\s+(?:[|\-»·•]|::|--)\s+")  # "Page | Site", "Site - Page", "eCFR :: ..."
# Parts of a <title> that name no page.
_GENERIC_TITLES = frozenset(
    "home|home page|homepage|welcome|untitled|untitled document|untitled page|new page|document|page|index|"
    "default|title|news|news release|news releases|press release|press releases|news & updates|"
    "news and updates|news & events|news and events|article|blog|blog post|post|guidance|notice|notices|"
    "announcement|announcements|content|details".split("|")
)


def _is_generic_title(title: str, h1: str, site_names: set[str]) -> bool:
    """Whether the <title> names the site or a kind of page, not the page its <h1> names."""
    if h1.casefold() in title.casefold():
        return False
    parts = _TITLE_PARTS.split(title)
    specific = [p for p in parts if p.casefold() not in _GENERIC_TITLES and p.casefold() not in site_names]
    # With no site name declared, a part at either end is taken as it ("Press release | BIS").
    return not specific or (len(parts) > 1 and specific in ([parts[0]], [parts[-1]]))


def _select(root, selector: str) -> list:
    """The elements a CSS selector matches."""
    try:
        found = root.xpath(_CSS.css_to_xpath(selector))
    except (SelectorError, etree.XPathError) as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from exc
    return [element for element in found if isinstance(element, etree._Element)]


def _outermost(root, matched: set) -> list[tuple]:
    """The matched elements not inside another, each with whether it sits in a main,
    article or section."""
    regions = []
    stack = [(root, False)]
    while stack:
        element, in_article = stack.pop()
        if element in matched:
            regions.append((element, in_article))  # an element inside a match is already part of it
            continue
        in_article = in_article or element.tag in _ARTICLES
        stack.extend((child, in_article) for child in element[::-1])
    return regions


def _is_chrome(element, in_article: bool) -> bool:
    """Page chrome: navigation, banners, scripts, forms, hidden and decorative elements."""
    name = element.tag
    if not isinstance(name, str) or name in _CHROME_TAGS:
        return True
    if name in ("header", "footer"):
        return not in_article
    attrib = element.attrib
    if not attrib:
        return name == "button"
    accordion = "accordion" in attrib.get("class", "")
    if name == "button" and not accordion:
        return True
    if attrib.get("role") in _CHROME_ROLES or attrib.get("aria-hidden", "").lower() == "true":
        return True
    return "hidden" in attrib and not accordion and attrib["hidden"].lower() != "until-found"


def _chrome(root, in_article: bool, excluded: set) -> tuple[set, list]:
    """The elements under `root` (never `root` itself) that are page chrome, boilerplate or
    `excluded`, and the main, [role=main] and article elements that remain."""
    dropped = set()
    # Pass 1: chrome, in document order, never entering what it drops. On the way it notes
    # the elements pass 2 looks at (those with attributes, and main and article) with the
    # span of kept text each one holds, so that no text is read twice.
    noted: list = []
    noted_end: list[int] = []  # noted[k:noted_end[k]]: noted[k] and the noted elements inside it
    text_start: list[int] = []  # noted[k] holds strings[text_start[k]:text_end[k]]
    text_end: list[int] = []
    strings: list[str] = []
    chars = [0]  # chars[i]: the length of strings[:i]
    stack: list = [(root, in_article)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings.append(item)
            chars.append(chars[-1] + len(item))
            continue
        if isinstance(item, int):  # the end of noted[item]
            text_end[item] = len(strings)
            noted_end[item] = len(noted)
            continue
        element, in_article = item
        if element is not root and (element in excluded or _is_chrome(element, in_article)):
            dropped.add(element)
            continue
        if element.attrib or element.tag in ("main", "article"):
            stack.append(len(noted))
            noted.append(element)
            text_start.append(len(strings))
            text_end.append(0)
            noted_end.append(0)
        in_article = in_article or element.tag in _ARTICLES
        for child in element[::-1]:
            if child.tail:
                stack.append(child.tail)  # the parent's text, kept when the child is dropped
            stack.append((child, in_article))
        if element.text:
            stack.append(element.text)
    # Pass 2: boilerplate, outermost first; what it drops it skips whole.
    landmarks = []
    k = 0
    while k < len(noted):
        element = noted[k]
        first, after = text_start[k], text_end[k]
        text_begins = "".join(strings[first : min(after, first + _SKIP_LINK_STRINGS)]) if element.tag == "a" else ""
        if element is not root and _is_boilerplate(element, chars[after] - chars[first], text_begins):
            dropped.add(element)
            k = noted_end[k]
            continue
        if element.tag in ("main", "article") or element.get("role") == "main":
            landmarks.append(element)
        k += 1
    return dropped, landmarks


def _is_boilerplate(element, text_length: int, text_begins: str) -> bool:
    """A skip link, or a small element whose class or id names breadcrumbs, cookies or sharing."""
    attrib = element.attrib
    if not attrib or element.tag in ("html", "body", "main", "article"):
        return False
    if element.tag == "a" and attrib.get("href", "").startswith("#") and _SKIP_LINK.match(text_begins):
        return True
    if text_length >= _BOILERPLATE_MAX:
        return False
    return bool(_BOILERPLATE.search(attrib.get("class", "") + " " + attrib.get("id", "")))


def _main_region(root, landmarks: list):
    """The single main, [role=main] or article element, in that order; else the body."""
    for wanted in (
        lambda element: element.tag == "main",
        lambda element: element.get("role") == "main",
        lambda element: element.tag == "article",
    ):
        found = [element for element in landmarks if wanted(element)]
        if len(found) == 1:
            return found[0]
    body = root.find("body")
    return body if body is not None else root


def _kind(tag_name: str, outer: str) -> str:
    if tag_name in _HEADINGS:
        return "heading"
    return "item" if tag_name == "li" else outer


def _pieces(root, dropped=frozenset(), rows: bool = True) -> list[tuple[str, str]]:
    """Flatten `root` into (kind, text) pieces, one per run of text between block boundaries.

    Inline text is joined exactly as written, so no space is invented inside a word.
    """
    pieces: list[tuple[str, str]] = []
    buffer: list[str] = []

    def flush(kind: str) -> None:
        if buffer:
            pieces.append((kind, "".join(buffer)))
            buffer.clear()

    # Entries are (text, kind, in_pre), (element, kind, in_pre), or (None, kind, in_pre)
    # for the end of a block element; an element's tail follows it in its parent's kind.
    root_kind = _kind(root.tag, "paragraph")
    stack: list = [(root, root_kind, False)]
    while stack:
        node, kind, pre = stack.pop()
        if node is None:
            flush(kind)
            continue
        if isinstance(node, str):
            if not pre:
                buffer.append(node)
                continue
            for i, line in enumerate(node.split("\n")):
                if i:
                    flush(kind)
                buffer.append(line)
            continue
        name = node.tag
        if node is not root:
            if node in dropped or not isinstance(name, str):
                continue
            if name == "br":
                flush(kind)
                continue
            if name == "tr" and rows:
                flush(kind)
                pieces.append((kind, _row_text(node, dropped)))
                continue
            if name in _BLOCK_TAGS:
                flush(kind)
                kind = _kind(name, kind)
                stack.append((None, kind, pre))
        pre = pre or name == "pre"
        for child in node[::-1]:
            if child.tail:
                stack.append((child.tail, kind, pre))
            stack.append((child, kind, pre))
        if node.text:
            stack.append((node.text, kind, pre))
    flush(root_kind)
    return pieces


def _row_text(row, dropped) -> str:
    cells = (
        _text_of(cell, dropped, rows=False) for cell in row if cell.tag in ("td", "th") and cell not in dropped
    )
    return " | ".join(cell for cell in cells if cell)


def _text_of(element, dropped=frozenset(), rows: bool = True) -> str:
    return fold(" ".join(text for _, text in _pieces(element, dropped, rows)))


MAX_LINKS = 10_000  # links kept per page, in document order
_LINK_MAX_CHARS = 4_096  # a longer href is no link to follow
_URL_EDGES = "".join(map(chr, range(0x21)))  # C0 controls and space, stripped as browsers do
_URL_TAB_OR_NEWLINE = re.compile("[\t\n\r]")  # removed anywhere, as browsers do
_URL_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # percent-encoded, never kept raw


def _links(regions: list, dropped: set, base_url: str) -> tuple[str, ...]:
    """The http(s) links of the regions, absolute, without fragments, each once."""
    links: dict[str, None] = {}  # an ordered set
    for region in regions:
        stack = [region]
        while stack and len(links) < MAX_LINKS:
            element = stack.pop()
            if element in dropped:
                continue
            stack.extend(element[::-1])
            href = element.get("href") if element.tag == "a" else None
            if href is not None and (url := _link(href, base_url)):
                links.setdefault(url, None)
    return tuple(links)


def _link(href: str, base_url: str) -> str | None:
    """One href as an absolute http(s) URL, or None: a malformed one costs only itself."""
    if len(href) > _LINK_MAX_CHARS:
        return None
    href = _URL_TAB_OR_NEWLINE.sub("", href.strip(_URL_EDGES))
    for base in (base_url, ""):  # a base that cannot be parsed still leaves absolute links
        try:
            url = urldefrag(urljoin(base, href)).url
            scheme = urlsplit(url).scheme
        except ValueError:  # e.g. a malformed IPv6 host
            continue
        if scheme not in ("http", "https"):
            return None
        return _URL_CONTROL.sub(lambda m: quote(m.group()), url)
    return None


# --- plain text and PDF -----------------------------------------------------

_BLANK_LINE = re.compile(r"\n\s*\n")


def normalize_text(text: str, title: str = "") -> Content:
    """Plain text: blank-line separated paragraphs, or one block per line if there are none."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return Content(fold(title), _build_blocks(("paragraph", chunk) for chunk in chunks))


_PAGE_NUMBER = re.compile(r"(?:page\s+)?\d+(?:\s+of\s+\d+)?", re.I)
_SENTENCE_END = re.compile(r"(?:[.:;?!]|;\s+(?:and|or))[\"')\]]*$")
_HYPHENATED = re.compile(r"[a-z]-$")


def normalize_pdf(body: bytes) -> Content:
    """A PDF's text, page by page, with wrapped lines joined back into paragraphs."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            reader.decrypt("")
        meta_title = reader.metadata.title if reader.metadata else None
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableDocument(f"the PDF could not be parsed: {type(exc).__name__}: {exc}") from exc
    blocks = _build_blocks(("paragraph", p) for page in pages for p in _pdf_paragraphs(page))
    title = fold(str(meta_title or ""))
    if _PLACEHOLDER_PDF_TITLE.fullmatch(title):
        title = next((line for page in pages for line in map(fold, page.splitlines()) if _names_something(line)), "")
    return Content(_shortened(title, _PDF_TITLE_MAX), blocks)


# What authoring tools write when nobody gave a title: their own placeholders, the file's
# name ("Microsoft Word - " and the name of the document printed, not its title), a path.
_PLACEHOLDER_PDF_TITLE = re.compile(
    r"|untitled(?: document)?|no title|title|(?:document|book|presentation|slide)\s*\d*|powerpoint presentation"
    r"|microsoft (?:office )?(?:word|excel|powerpoint) - .*"
    r"|.*\.(?:docx?|dotx?|pdf|rtf|odt|wpd|pptx?|xlsx?|txt|html?|indd|pub)|[a-z]:\\.*|/.*",
    re.I,
)
_PDF_TITLE_MAX = 200


def _names_something(line: str) -> bool:
    """A line that can stand as a title: a few letters, not a page number."""
    return sum(c.isalpha() for c in line[:20]) >= 3 and not _PAGE_NUMBER.fullmatch(line)


def _pdf_paragraphs(page_text: str) -> list[str]:
    lines = [line.strip() for line in page_text.splitlines()]
    width = max(map(len, lines), default=0)
    # A paragraph's pieces are joined once at its end: rebuilding it at every line was quadratic.
    paragraphs, pieces, previous = [], [], ""
    for line in lines:
        if _PAGE_NUMBER.fullmatch(line):
            continue
        if not line or (pieces and _breaks_before(previous, line, width)):
            paragraphs.append("".join(pieces))
            pieces = []
        if line:
            _join_lines(pieces, line)
        previous = line
    paragraphs.append("".join(pieces))
    return paragraphs


def _breaks_before(previous: str, line: str, width: int) -> bool:
    # A short line ends its paragraph; a label after a finished sentence starts one.
    if len(previous) < 0.6 * width:
        return True
    starts_label = bool(_section_label(line) or _paragraph_tokens(line))
    return starts_label and bool(_SENTENCE_END.search(previous))


def _join_lines(pieces: list[str], line: str) -> None:
    """Add a wrapped line to a paragraph's pieces. Only the last piece can end the paragraph
    in "x-": every piece but the first starts with a space or a lowercase letter."""
    if not pieces:
        pieces.append(line)
    elif _HYPHENATED.search(pieces[-1]) and line[:1].islower():
        pieces[-1] = pieces[-1][:-1]  # "regu-" + "lation"
        pieces.append(line)
    else:
        pieces.append(f" {line}")


# --- hashing ----------------------------------------------------------------


def content_hash(content: Content) -> str:
    """SHA-256 hex of the title, each block's kind and text, and the links."""
    # Labels, sections and volatility derive from the text; links count because a newly linked PDF is news.
    canonical = json.dumps(
        [content.title, [[b.kind, b.text] for b in content.blocks], list(content.links)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
