"""Plain text and PDFs: paragraphs out of lines."""

from __future__ import annotations

import io
import re

from tracker.reading.blocks import (
    build_blocks,
    fold,
    paragraph_tokens,
    section_label,
    shortened,
)
from tracker.reading.content import Content
from tracker.reading.errors import UnreadableDocument

# --- plain text and PDF -----------------------------------------------------

_BLANK_LINE = re.compile(r"\n\s*\n")


def normalize_text(text: str, title: str = "") -> Content:
    """Plain text: blank-line separated paragraphs, or one block per line if there are none."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return Content(fold(title), build_blocks(("paragraph", chunk) for chunk in chunks))


_PAGE_NUMBER = re.compile(r"(?:page\s+)?\d+(?:\s+of\s+\d+)?", re.I)
_SENTENCE_END = re.compile(r"(?:[.:;?!]|;\s+(?:and|or))[\"')\]]*$")
_HYPHENATED = re.compile(r"[a-z]-$")


def normalize_pdf(body: bytes) -> Content:
    """A PDF's text, page by page, with wrapped lines joined back into paragraphs."""
    import pypdf  # here, not above: few sources serve PDFs, and it costs every crawl process ~10 MB

    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            reader.decrypt("")
        meta_title = reader.metadata.title if reader.metadata else None
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableDocument(f"the PDF could not be parsed: {type(exc).__name__}: {exc}") from exc
    blocks = build_blocks(("paragraph", p) for page in pages for p in _pdf_paragraphs(page))
    title = fold(str(meta_title or ""))
    if _PLACEHOLDER_PDF_TITLE.fullmatch(title):
        title = next((line for page in pages for line in map(fold, page.splitlines()) if _names_something(line)), "")
    return Content(shortened(title, _PDF_TITLE_MAX), blocks)


# What authoring tools write when nobody gave a title: their own stand-in titles, the file's
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
    paragraphs: list[str] = []
    pieces: list[str] = []
    previous = ""
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
    starts_label = bool(section_label(line) or paragraph_tokens(line))
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
