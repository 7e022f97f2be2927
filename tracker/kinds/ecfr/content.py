"""Reading an eCFR part (the versioner's `full/{date}/title-N.xml?part=…`) into `Content`.

The XML nests the part (DIV5), its subparts (DIV6), subject groups (DIV7),
sections (DIV8) and appendices or supplements (DIV9), each with a HEAD. Text
sits in P paragraphs that start with their labels "(a)", "(1)", "(i)", "(A)".
Every block is anchored the way the CFR is cited: "15 CFR 744.23(a)(2)(ii)",
so redlines and severity reasons point at the paragraph that changed.

Paragraph levels are read with tracker.reading.blocks' own label logic (`_Anchor`,
`paragraph_tokens`), so eCFR parts and HTML pages label paragraphs alike.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from lxml import etree

from tracker.items import Snapshot
from tracker.reading.blocks import _Anchor, fold, paragraph_tokens
from tracker.reading.content import Block, BlockKind, Content
from tracker.reading.errors import ContentError
from tracker.reading.gpo import element_text
from tracker.safexml import safe_xml_parser

# Containers whose children are read one by one; their P children are not CFR paragraphs.
# GPO wraps tables in <DIV><DIV class="gpotbl_div"> (no number: not a division).
WRAPPERS = {"NOTE", "NOTES", "EXTRACT", "EXAMPLE", "DIV", "div"}
# Blocks kept whole: the parts inside (HED "Authority:", PSPACE "50 U.S.C. …") joined by spaces.
WHOLE_BLOCKS = {"AUTH", "SOURCE", "EDNOTE", "SECAUTH", "CITA", "APPRO", "EFFDNOT", "CROSSREF"}
TABLES = {"GPOTABLE", "TABLE", "table"}
ROWS = {"BOXHD", "ROW", "TR", "tr"}
CELLS = {"CHED", "ENT", "TD", "TH", "td", "th"}
CAPTIONS = {"TTITLE", "TNOTE", "TDESC", "caption"}
# Each read as its own row, cell or block, so never also as part of the one around it.
TABLE_PARTS = ROWS | CELLS | CAPTIONS
BLOCK_PARTS = {"HED", "PSPACE", "P", "FP"}
EMPTY = {"PRTPAGE"}  # page-break markers of the printed edition

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_KEY = re.compile(r"^(\d+)\s+CFR\b")
_SECTION_IN_HEAD = re.compile(r"^§+\s*(\S+)")
DEFAULT_TITLE = "15"  # the EAR's title, for a key that does not say


def ecfr_content(snapshot: Snapshot) -> Content:
    """The part's structured text; malformed XML or no part in it is a ContentError."""
    root = parse_xml(snapshot.body, snapshot.final_url)
    part = root if root.tag == "DIV5" else next(root.iter("DIV5"), None)
    if part is None:
        raise ContentError(f"expected eCFR part XML (a DIV5 element) from {snapshot.final_url}, got <{root.tag}>")
    match = _KEY.match(snapshot.key)
    reader = _PartReader(match.group(1) if match else DEFAULT_TITLE)
    reader.division(part)
    return Content(title=_text(part.find("HEAD")), blocks=tuple(reader.blocks))


def parse_xml(body: bytes, url: str) -> etree._Element:
    """Parse untrusted XML: no network, no DTD, no entity expansion, no huge trees."""
    parser = safe_xml_parser(encoding="utf-8", recover=False)
    try:
        return etree.fromstring(_as_utf8(body), parser)
    except etree.XMLSyntaxError as exc:
        raise ContentError(f"malformed eCFR XML from {url}: {exc}") from None


def _as_utf8(body: bytes) -> bytes:
    """Decode by the XML declaration (UTF-8 by default), replacing bad bytes, never failing."""
    match = _XML_ENCODING.match(body)
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except (LookupError, UnicodeError):  # an encoding Python does not know, or one that cannot replace
        text = body.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff").encode("utf-8")


class _PartReader:
    """Walks a part in document order, keeping the current CFR anchor."""

    def __init__(self, title: str):
        self.title = title
        self.part = ""
        self.anchor = _Anchor()
        self.blocks: list[Block] = []

    def division(self, div: etree._Element) -> None:
        """DIV5…DIV9: a heading, then its contents; the anchor is restored after each child division."""
        label, here = self.division_anchor(div)
        if here:
            self.anchor.start_section(here)
        here = str(self.anchor)
        head = div.find("HEAD")
        if head is not None:
            self.add(_text(head), "heading", label, here)
        for child in div:
            if child is head:
                continue
            if _is_division(child):
                self.division(child)
                self.anchor.start_section(here)
            else:
                self.element(child, here, labelled=True)

    def division_anchor(self, div: etree._Element) -> tuple[str, str]:
        """(label, anchor) of a division: ("§ 744.23", "15 CFR 744.23"); a subject group has none."""
        number = (div.get("N") or "").strip()
        kind = div.tag
        if kind == "DIV5":
            self.part = number
            return f"Part {number}", f"{self.title} CFR Part {number}"
        if kind == "DIV6":
            return f"Subpart {number}", f"{self.title} CFR Part {self.part} Subpart {number}"
        if kind == "DIV8":
            number = number.lstrip("§ ") or _section_from_head(div)
            return f"§ {number}", f"{self.title} CFR {number}"
        if kind == "DIV9":
            name = number or _appendix_name(div)
            return name, f"{self.title} CFR {name}"
        return "", ""  # DIV7 subject groups and anything else: headings within their container

    def element(self, element: etree._Element, here: str, labelled: bool) -> None:
        """One child of a division (labelled) or of a note or extract (not)."""
        tag = element.tag
        if not isinstance(tag, str) or tag in EMPTY:
            return
        if tag in WHOLE_BLOCKS:
            # Citations and notes on the section as a whole, not on its last paragraph.
            self.add(_joined(element), "paragraph", "", here)
        elif tag in TABLES:
            self.table(element)
        elif tag in WRAPPERS:
            for child in element:
                self.element(child, here, labelled=False)
        elif labelled and tag in ("P", "FP"):
            self.paragraph(_text(element))
        else:
            self.add(_joined(element), "paragraph", "", str(self.anchor))

    def paragraph(self, text: str) -> None:
        label = ""
        if tokens := paragraph_tokens(text):
            label = "".join(f"({token})" for token in tokens)
            for token in tokens:
                self.anchor.push(token)
        self.add(text, "paragraph", label, str(self.anchor))

    def table(self, table: etree._Element) -> None:
        """A block per row (its cells joined by " | ") and per caption, in document order."""
        parts: list[list[str] | str] = []
        _read_table_parts(table, None, parts)
        for part in parts:
            text = part if isinstance(part, str) else " | ".join(cell for cell in part if cell)
            self.add(text, "paragraph", "", str(self.anchor))

    def add(self, text: str, kind: BlockKind, label: str, section: str) -> None:
        text = fold(text)
        if text:
            self.blocks.append(Block(text, kind, label, section))


def _read_table_parts(element: etree._Element, row: list[str] | None, parts: list[list[str] | str]) -> None:
    """One walk over a table: a cell belongs to its nearest row, and every text is read once
    (a cell's own text leaves out the rows, cells and captions nested in it)."""
    for child in element:
        if child.tag in ROWS:
            cells: list[str] = []
            parts.append(cells)
            _read_table_parts(child, cells, parts)
            continue
        if child.tag in CELLS and row is not None:
            row.append(_text(child, TABLE_PARTS))
        elif child.tag in CAPTIONS:
            parts.append(_joined(child, TABLE_PARTS))
        _read_table_parts(child, row, parts)


def _is_division(element: etree._Element) -> bool:
    return isinstance(element.tag, str) and re.fullmatch(r"DIV[1-9]", element.tag) is not None


def _text(element: etree._Element | None, skip: Collection[str] = ()) -> str:
    """Inline text as written: "(a) <I>General.</I> In …" gives "(a) General. In …" (see tracker.reading.gpo)."""
    return fold(element_text(element, skip)) if element is not None else ""


def _joined(element: etree._Element, skip: Collection[str] = ()) -> str:
    """Text whose parts are blocks of their own: "<HED>Authority:</HED><PSPACE>50 U.S.C.…"
    gives "Authority: 50 U.S.C.…"; inline parts (<I>, <E>) join as written."""
    pieces = [element.text or ""]
    for child in element:
        if child.tag in skip:
            pieces.append(child.tail or "")
            continue
        gap = " " if child.tag in BLOCK_PARTS else ""
        pieces += [gap, element_text(child, skip), gap, child.tail or ""]
    return fold("".join(pieces))


def _section_from_head(div: etree._Element) -> str:
    match = _SECTION_IN_HEAD.match(_text(div.find("HEAD")))
    return match.group(1) if match else ""


def _appendix_name(div: etree._Element) -> str:
    """ "Supplement No. 4 to Part 744—Entity List" gives "Supplement No. 4 to Part 744"."""
    head = div.find("HEAD")
    return fold("".join(head.itertext()).split("—")[0]) if head is not None else ""


def read(snapshot: Snapshot, source: object) -> Content:
    """The kind's reader (tracker.kinds): the part named by the snapshot's key."""
    return ecfr_content(snapshot)
