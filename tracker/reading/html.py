"""An HTML page's readable content, read in linear time on lxml's own tree."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import TypeAlias
from urllib.parse import quote, urldefrag, urljoin, urlsplit

from cssselect import HTMLTranslator, SelectorError
from lxml import etree

from tracker.reading.blocks import build_blocks, fold
from tracker.reading.content import BlockKind, Content
from tracker.reading.errors import SelectorNotFound, UnreadableDocument

# --- HTML -------------------------------------------------------------------

# Browsers stop nesting at 512 levels (Blink's parser puts deeper elements beside their
# parent) and lxml's own tree builder refuses more than 256 unless told otherwise, so no
# page a reader sees is deeper. Large real pages (the eCFR's Entity List) hold tens of
# thousands of elements, and an element a few dozen attributes.
MAX_DEPTH = 512
MAX_ELEMENTS = 200_000
MAX_ATTRIBUTES = 1_000  # lxml's tree builder checks each attribute against the others'


# An lxml element. lxml ships no type information, so mypy sees Any; the name is for readers.
Element: TypeAlias = etree._Element


class _ShapeCounter:
    """An lxml parser target that follows depth and size, and stops at the caps."""

    def __init__(self) -> None:
        self.depth = self.elements = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_DEPTH:
            raise UnreadableDocument(f"the page is nested deeper than {MAX_DEPTH} levels; not read")
        if self.elements > MAX_ELEMENTS:
            raise UnreadableDocument(f"the page has more than {MAX_ELEMENTS:,} elements; not read")
        if len(attrib) > MAX_ATTRIBUTES:
            raise UnreadableDocument(f"an element of the page has more than {MAX_ATTRIBUTES:,} attributes; not read")

    def end(self, tag: str) -> None:
        self.depth -= 1

    def close(self) -> None:
        return None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(html: str) -> str:
    """lxml cannot take lone surrogates: each becomes U+FFFD (an ASCII page has none to look for)."""
    return html if html.isascii() else _LONE_SURROGATE.sub("\ufffd", html)


def refuse_unreadable_shape(html: str) -> None:
    """UnreadableDocument when the page is past the caps (depth, elements, attributes), read from
    lxml's parser events alone, which build no tree: call it before building any tree of the page."""
    try:
        counter = etree.HTMLParser(target=_ShapeCounter(), recover=True)
        counter.feed(_without_lone_surrogates(html))
        counter.close()
    except etree.LxmlError as exc:  # not seen in recover mode; never a page read in part
        raise UnreadableDocument(f"the page could not be parsed: {exc}") from exc


def _tree(html: str) -> etree._Element | None:
    """The page's element tree, comments and processing instructions left out; None if empty.

    A page past the caps is refused first, from lxml's parser events, which build no tree.
    """
    html = _without_lone_surrogates(html)
    refuse_unreadable_shape(html)
    try:
        parser = etree.HTMLParser(recover=True, huge_tree=True, remove_comments=True, remove_pis=True)
        parser.feed(html)
        return parser.close()
    except etree.LxmlError as exc:  # not seen in recover mode; never a page read in part
        raise UnreadableDocument(f"the page could not be parsed: {exc}") from exc


# Accordions (USWDS FAQs on bis.gov) are content: a question in a button, the answer `hidden`.
_CHROME_TAGS = frozenset(
    [
        "head",
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "object",
        "embed",
        "input",
        "select",
        "textarea",
        "option",
        "datalist",
        "label",
        "nav",
        "aside",
    ]
)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo"})
_ARTICLES = frozenset({"main", "article", "section"})  # a header or footer inside one is its own
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
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
    return Content(title, build_blocks(pieces), _links(regions, dropped, base_url))


def _html_title(root: Element) -> str:
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
    [
        "home",
        "home page",
        "homepage",
        "welcome",
        "untitled",
        "untitled document",
        "untitled page",
        "new page",
        "document",
        "page",
        "index",
        "default",
        "title",
        "news",
        "news release",
        "news releases",
        "press release",
        "press releases",
        "news & updates",
        "news and updates",
        "news & events",
        "news and events",
        "article",
        "blog",
        "blog post",
        "post",
        "guidance",
        "notice",
        "notices",
        "announcement",
        "announcements",
        "content",
        "details",
    ]
)


def _is_generic_title(title: str, h1: str, site_names: set[str]) -> bool:
    """Whether the <title> names the site or a kind of page, not the page its <h1> names."""
    if h1.casefold() in title.casefold():
        return False
    parts = _TITLE_PARTS.split(title)
    specific = [p for p in parts if p.casefold() not in _GENERIC_TITLES and p.casefold() not in site_names]
    # With no site name declared, a part at either end is taken as it ("Press release | BIS").
    return not specific or (len(parts) > 1 and specific in ([parts[0]], [parts[-1]]))


def _select(root: Element, selector: str) -> list[Element]:
    """The elements a CSS selector matches."""
    try:
        found = root.xpath(_CSS.css_to_xpath(selector))
    except (SelectorError, etree.XPathError) as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from exc
    return [element for element in found if isinstance(element, etree._Element)]


def _outermost(root: Element, matched: set[Element]) -> list[tuple[Element, bool]]:
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


def _is_chrome(element: Element, in_article: bool) -> bool:
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


def _chrome(root: Element, in_article: bool, excluded: set[Element]) -> tuple[set[Element], list[Element]]:
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


def _is_boilerplate(element: Element, text_length: int, text_begins: str) -> bool:
    """A skip link, or a small element whose class or id names breadcrumbs, cookies or sharing."""
    attrib = element.attrib
    if not attrib or element.tag in ("html", "body", "main", "article"):
        return False
    if element.tag == "a" and attrib.get("href", "").startswith("#") and _SKIP_LINK.match(text_begins):
        return True
    if text_length >= _BOILERPLATE_MAX:
        return False
    return bool(_BOILERPLATE.search(attrib.get("class", "") + " " + attrib.get("id", "")))


def _main_region(root: Element, landmarks: list[Element]) -> Element:
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


def _kind(tag_name: str, outer: BlockKind) -> BlockKind:
    if tag_name in _HEADINGS:
        return "heading"
    return "item" if tag_name == "li" else outer


def _pieces(
    root: Element, dropped: AbstractSet[Element] = frozenset(), rows: bool = True
) -> list[tuple[BlockKind, str]]:
    """Flatten `root` into (kind, text) pieces, one per run of text between block boundaries.

    Inline text is joined exactly as written, so no space is invented inside a word.
    """
    pieces: list[tuple[BlockKind, str]] = []
    buffer: list[str] = []

    def flush(kind: BlockKind) -> None:
        if buffer:
            pieces.append((kind, "".join(buffer)))
            buffer.clear()

    # Entries are (text, kind, in_pre), (element, kind, in_pre), or (None, kind, in_pre)
    # for the end of a block element; an element's tail follows it in its parent's kind.
    root_kind = _kind(root.tag, "paragraph")
    stack: list[tuple[Element | str | None, BlockKind, bool]] = [(root, root_kind, False)]
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


def _row_text(row: Element, dropped: AbstractSet[Element]) -> str:
    cells = (_text_of(cell, dropped, rows=False) for cell in row if cell.tag in ("td", "th") and cell not in dropped)
    return " | ".join(cell for cell in cells if cell)


def _text_of(element: Element, dropped: AbstractSet[Element] = frozenset(), rows: bool = True) -> str:
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
