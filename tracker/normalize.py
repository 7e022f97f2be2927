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
import warnings
from typing import Iterable
from urllib.parse import urldefrag, urljoin, urlsplit

import charset_normalizer
import pypdf
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import PreformattedString
from soupsieve import SelectorSyntaxError

from tracker.model import Block, Content

# Our input is always a fetched document, never a file name or URL typed by mistake.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)


class SelectorNotFound(ValueError):
    """The configured CSS selector matched nothing on the page."""

    def __init__(self, selector: str):
        self.selector = selector
        super().__init__(
            f"CSS selector {selector!r} matched nothing on the page; "
            "the page layout may have changed"
        )


class UnreadableDocument(ValueError):
    """A document whose bytes could not be parsed at all (a damaged PDF)."""


# --- decoding ---------------------------------------------------------------

_BOMS = [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def decode(body: bytes, declared_charset: str | None) -> str:
    """Bytes to text: BOM, declared charset, <meta> charset, detection, then UTF-8 with replacement."""
    bom = next((name for mark, name in _BOMS if body.startswith(mark)), None)
    for label in (bom, declared_charset, _meta_charset(body)):
        text = _decode_strict(body, label) if label else None
        if text is not None:
            return text.removeprefix("\ufeff")
    try:
        match = charset_normalizer.from_bytes(body).best()
    except Exception:  # detection is best effort: it must never fail a fetch
        match = None
    text = str(match) if match is not None else body.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff")


def _decode_strict(body: bytes, label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        if name == "iso8859-1":
            # Browsers read latin-1 labels as windows-1252 (curly quotes live in 0x80-0x9f).
            try:
                return body.decode("cp1252")
            except UnicodeDecodeError:
                pass
        return body.decode(name)
    except (LookupError, ValueError):  # unknown codec, not a text codec, bad bytes
        return None


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
_VOLATILE = [
    re.compile(pattern, re.I)
    for pattern in (
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
]


def _is_volatile(text: str) -> bool:
    return len(text) < _VOLATILE_MAX and any(p.search(text) for p in _VOLATILE)


# --- labels and sections ----------------------------------------------------

_SECTION_LABEL = re.compile(r"^(?:§|sec\.)\s*(\d+\.\d+[a-z]?)\b", re.I)
_PART_LABEL = re.compile(r"^(?:PART|Part)\s+(\d+)\b")
_PARAGRAPH_LABELS = re.compile(r"^((?:\([A-Za-z0-9]{1,6}\))+)(?=\s|$)")
_TOKEN = re.compile(r"\(([A-Za-z0-9]+)\)")
_ONES = ("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")
_ROMANS = [tens + ones for tens in ("", "x", "xx", "xxx") for ones in _ONES][1:]  # i to xxxix
# CFR paragraph levels: (a) (1) (i) (A) then italic (1) and (i).
_FIRST = {1: "a", 2: "1", 3: "i", 4: "A", 5: "1", 6: "i"}


def _section_label(text: str) -> str:
    if match := _SECTION_LABEL.match(text):
        return f"§ {match.group(1)}"
    if match := _PART_LABEL.match(text):
        return f"Part {match.group(1)}"
    return ""


def _paragraph_tokens(text: str) -> list[str]:
    """The labels a block starts with: "(a)(1) Text" gives ["a", "1"]."""
    match = _PARAGRAPH_LABELS.match(text)
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
    right after "(1)"). If none fits, the token's usual level. So "(i)" after
    "(h)" is a letter, but after "(h)(1)" it is the roman (h)(1)(i).
    """
    candidates = _candidate_levels(token)
    current = dict(open_labels)
    depth = open_labels[-1][0] if open_labels else 0
    for level in sorted(candidates, reverse=True):
        if level in current and _successor(current[level], level) == token:
            return level
        if level == depth + 1 and token == _FIRST[level]:
            return level
    return candidates[0]


class _Anchor:
    """Where we are: the current section heading and the open paragraph labels."""

    def __init__(self) -> None:
        self.heading = ""
        self.open: list[tuple[int, str]] = []  # (level, token), levels increasing

    def start_section(self, heading: str) -> None:
        self.heading, self.open = heading, []

    def push(self, token: str) -> None:
        level = _level(token, self.open)
        self.open = [(lv, t) for lv, t in self.open if lv < level] + [(level, token)]

    def __str__(self) -> str:
        return self.heading + "".join(f"({t})" for _, t in self.open)


def _build_blocks(pieces: Iterable[tuple[str, str]]) -> tuple[Block, ...]:
    """Fold raw (kind, text) pieces into Blocks with labels, sections and volatility."""
    anchor = _Anchor()
    blocks = []
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
        elif kind == "heading":
            anchor.start_section(text[:80].rstrip())
        blocks.append(Block(text, kind, label, str(anchor), _is_volatile(text)))
    return tuple(blocks)


# --- HTML -------------------------------------------------------------------

# Accordions (USWDS FAQs on bis.gov) are content: a question in a button, the answer `hidden`.
_DROP = (
    "head, script, style, noscript, template, svg, iframe, object, embed, "
    "input, select, textarea, option, datalist, label, button:not([class*=accordion]), "
    "nav, header, footer, aside, [role=navigation], [role=banner], [role=contentinfo], "
    '[aria-hidden="true" i], [hidden]:not([class*=accordion], [hidden=until-found])'
)
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


def normalize_html(html: str, selector: str | None = None, base_url: str = "") -> Content:
    """The readable content of an HTML page, narrowed to `selector` when given."""
    soup = BeautifulSoup(html, "lxml")
    title = _html_title(soup)
    if selector:
        regions = _selected(soup, selector)
        for region in regions:
            _clean(region)
    else:
        _clean(soup)
        regions = [_main_region(soup)]
    pieces = [piece for region in regions for piece in _pieces(region)]
    return Content(title, _build_blocks(pieces), _links(regions, base_url))


def _html_title(soup: BeautifulSoup) -> str:
    title = next((t for t in soup.find_all("title") if not t.find_parent("svg")), None)
    for tag in (title, soup.find("h1")):
        text = _text_of(tag) if tag else ""
        if text:
            return text
    return ""


def _selected(soup: BeautifulSoup, selector: str) -> list[Tag]:
    try:
        found = soup.select(selector)
    except SelectorSyntaxError as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from exc
    if not found:
        raise SelectorNotFound(selector)
    ids = {id(tag) for tag in found}
    # An element inside another matched one is already part of it.
    return [tag for tag in found if not any(id(parent) in ids for parent in tag.parents)]


def _main_region(soup: BeautifulSoup) -> Tag:
    for candidate in ("main", "[role=main]", "article"):
        found = soup.select(candidate)
        if len(found) == 1:
            return found[0]
    return soup.body or soup


def _clean(region: Tag) -> None:
    """Remove page chrome and boilerplate under `region` (never `region` itself)."""
    for tag in region.select(_DROP):
        # A header or footer inside an article or section is the article's own (its h1, its date).
        own = tag.name in ("header", "footer") and tag.find_parent(("main", "article", "section"))
        if not (tag.decomposed or own):
            tag.decompose()
    for tag in region.find_all(True):
        if not tag.decomposed and _is_boilerplate(tag):
            tag.decompose()


def _is_boilerplate(tag: Tag) -> bool:
    if tag.name in ("html", "body", "main", "article"):
        return False
    if tag.name == "a" and tag.get("href", "").startswith("#") and _SKIP_LINK.match(tag.get_text()):
        return True
    names = " ".join(tag.get("class", [])) + " " + str(tag.get("id", ""))
    return bool(_BOILERPLATE.search(names)) and len(tag.get_text()) < _BOILERPLATE_MAX


def _kind(tag_name: str, outer: str) -> str:
    if tag_name in _HEADINGS:
        return "heading"
    return "item" if tag_name == "li" else outer


def _pieces(root: Tag, rows: bool = True) -> list[tuple[str, str]]:
    """Flatten `root` into (kind, text) pieces, one per run of text between block boundaries.

    Inline text is joined exactly as written, so no space is invented inside a
    word. Iterative, because lxml keeps arbitrarily deep nesting from broken pages.
    """
    pieces: list[tuple[str, str]] = []
    buffer: list[str] = []

    def flush(kind: str) -> None:
        if buffer:
            pieces.append((kind, "".join(buffer)))
            buffer.clear()

    root_kind = _kind(root.name, "paragraph")
    # Entries are (node, kind, in_pre); a node of None marks the end of a block element.
    stack = [(child, root_kind, root.name == "pre") for child in reversed(root.contents)]
    while stack:
        node, kind, pre = stack.pop()
        if node is None:
            flush(kind)
        elif isinstance(node, PreformattedString):  # comments, doctype, CDATA
            continue
        elif isinstance(node, NavigableString):
            for i, line in enumerate(node.split("\n") if pre else [node]):
                if i:
                    flush(kind)
                buffer.append(line)
        elif node.name == "br":
            flush(kind)
        elif node.name == "tr" and rows:
            flush(kind)
            pieces.append((kind, _row_text(node)))
        else:
            if node.name in _BLOCK_TAGS:
                flush(kind)
                kind = _kind(node.name, kind)
                stack.append((None, kind, pre))
            pre = pre or node.name == "pre"
            stack.extend((child, kind, pre) for child in reversed(node.contents))
    flush(root_kind)
    return pieces


def _row_text(row: Tag) -> str:
    cells = (_text_of(cell, rows=False) for cell in row.find_all(("td", "th"), recursive=False))
    return " | ".join(cell for cell in cells if cell)


def _text_of(tag: Tag, rows: bool = True) -> str:
    return fold(" ".join(text for _, text in _pieces(tag, rows)))


def _links(regions: list[Tag], base_url: str) -> tuple[str, ...]:
    links: dict[str, None] = {}  # an ordered set
    for region in regions:
        for anchor in region.find_all("a", href=True):
            try:
                url = urldefrag(urljoin(base_url, anchor["href"].strip())).url
                scheme = urlsplit(url).scheme
            except ValueError:  # e.g. a malformed IPv6 host
                continue
            if scheme in ("http", "https"):
                links.setdefault(url, None)
    return tuple(links)


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
    first_line = next((line for page in pages for line in map(fold, page.splitlines()) if line), "")
    return Content(fold(str(meta_title or "")) or first_line, blocks)


def _pdf_paragraphs(page_text: str) -> list[str]:
    lines = [line.strip() for line in page_text.splitlines()]
    width = max(map(len, lines), default=0)
    paragraphs, current, previous = [], "", ""
    for line in lines:
        if _PAGE_NUMBER.fullmatch(line):
            continue
        if not line or (current and _breaks_before(previous, line, width)):
            paragraphs.append(current)
            current = ""
        if line:
            current = _join_lines(current, line)
        previous = line
    paragraphs.append(current)
    return paragraphs


def _breaks_before(previous: str, line: str, width: int) -> bool:
    # A short line ends its paragraph; a label after a finished sentence starts one.
    if len(previous) < 0.6 * width:
        return True
    starts_label = bool(_section_label(line) or _paragraph_tokens(line))
    return starts_label and bool(_SENTENCE_END.search(previous))


def _join_lines(current: str, line: str) -> str:
    if not current:
        return line
    if _HYPHENATED.search(current) and line[:1].islower():
        return current[:-1] + line  # "regu-" + "lation"
    return f"{current} {line}"


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
