"""A redline as a Word document whose changes are Word's own tracked changes.

At the top: the two versions, the severity and reasons of the change, and the
evidence of both versions. Then the document itself, every paragraph of it, with
each insertion a `w:ins` and each deletion a `w:del` (its text in `w:delText`), by
the author "Rulewatch". Every change is dated when the newer version was fetched:
the change happened at some moment between the two fetches, and the newer fetch is
when it was first seen (the older fetch's time is in the evidence above). Accepting
every change gives the newer version's text; rejecting every change, the older's.
Headings of the document stay Word headings, so the navigation pane lists its sections.

python-docx builds the document and escapes all text; it has no tracked-change API,
so the `w:ins` / `w:del` elements are built through its oxml layer. Characters XML
cannot carry (C0 controls but tab, line feed and carriage return; U+FFFE, U+FFFF;
lone surrogates) are dropped from fetched text.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from docx import Document as new_document
from docx.document import Document as WordDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Inches, Pt
from docx.text.paragraph import Paragraph

from storage.models import Version
from tracker.compare import Comparison
from tracker.redline.compute import diff_words
from tracker.redline.model import Op
from tracker.redline.render import hunk_sides
from tracker.shapes import iso

AUTHOR = "Rulewatch"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_COLUMNS = (Inches(1.9), Inches(4.6))  # an evidence table's label and value columns
_STYLES = {"title": "Heading 3", "heading": "Heading 3", "item": "List Bullet", "paragraph": "Normal"}


def xml_text(text: str) -> str:
    """`text` without the characters an XML document cannot hold."""
    return _NOT_XML.sub("", text)


def docx_filename(comparison: Comparison) -> str:
    old = f"-v{comparison.old.number}" if comparison.old else ""
    return f"redline-{comparison.document.id}{old}-v{comparison.new.number}.docx"


def redline_docx(comparison: Comparison, source: str = "") -> bytes:
    """The .docx file of a comparison; `source`: the name of the document's source, for the heading."""
    document = new_document()
    title = xml_text(comparison.document.title or comparison.new.title or comparison.document.url)
    made = datetime.now(UTC)
    properties = document.core_properties
    properties.author = properties.last_modified_by = AUTHOR
    properties.title = f"Redline: {title}"[:255]
    properties.comments = "Made by Rulewatch: the changes are Word tracked changes."
    properties.created = properties.modified = made.replace(tzinfo=None)
    document.add_paragraph(f"Redline: {title}", style="Title")
    _introduction(document, comparison, source)
    _reasons(document, comparison)
    document.add_heading("Evidence", level=1)
    for version in (comparison.old, comparison.new):
        if version is not None:
            _evidence(document, version)
    document.add_heading("The document, with its changes tracked", level=1)
    _redline(document, comparison)
    # A last untracked paragraph: a deleted paragraph mark is never the document's last one.
    document.add_paragraph(f"Made by Rulewatch on {iso(made)}.", style="Normal")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _introduction(document: WordDocument, comparison: Comparison, source: str) -> None:
    doc = comparison.document
    old, new = comparison.old, comparison.new
    facts = [f"Document {doc.id}"]
    if doc.key != doc.url:
        facts[0] += f" ({xml_text(doc.key)})"
    if source:
        facts.append(f"source {xml_text(source)}")
    document.add_paragraph(", ".join(facts) + f": {xml_text(doc.url)}")
    if old is None:
        line = f"Version {new.number}, fetched {iso(new.fetched_at)}, against nothing: all of it is inserted."
    else:
        line = (
            f"From version {old.number}, fetched {iso(old.fetched_at)}, to version {new.number}, fetched "
            f"{iso(new.fetched_at)}. The changes are Word's tracked changes by {AUTHOR}, dated when version "
            f"{new.number} was fetched: accept them all for version {new.number}, reject them all for version "
            f"{old.number}."
        )
    document.add_paragraph(line)


def _reasons(document: WordDocument, comparison: Comparison) -> None:
    document.add_heading("Why it matters", level=1)
    assessment = comparison.assessment
    if assessment is None:
        document.add_paragraph("The first version: there is nothing to compare it with.")
        return
    paragraph = document.add_paragraph()
    paragraph.add_run("Severity: ").bold = True
    paragraph.add_run(assessment.severity)
    for reason in assessment.reasons:
        document.add_paragraph(xml_text(reason), style="List Bullet")
    if not assessment.reasons:
        document.add_paragraph("No reason was given.")


def _evidence(document: WordDocument, version: Version) -> None:
    document.add_heading(f"Version {version.number}", level=2)
    rows: list[tuple[str, str]] = [
        ("Fetched at", iso(version.fetched_at) or ""),
        ("Document URL", version.url),
        ("Fetched from", version.final_url),
        ("HTTP status", str(version.status)),
        ("Content type", version.content_type or "unknown"),
        ("SHA-256 of the raw bytes", version.sha256),
        ("SHA-256 of the normalized content", version.content_hash),
        ("Title", version.title),
    ]
    evidence = version.evidence
    rows += [(key, _plain(value)) for key, value in sorted(evidence.items()) if key not in ("attachments", "http")]
    rows += [
        (f"HTTP header {name}", value) for name, value in sorted(version.headers.items(), key=lambda p: p[0].lower())
    ]
    for index, attachment in enumerate(evidence.get("attachments", []), 1):
        described = (
            f"{attachment.get('url', '')}, HTTP status {attachment.get('status', '')}, "
            f"{attachment.get('content_type') or 'unknown type'}, SHA-256 {attachment.get('sha256', '')}"
        )
        rows.append((f"Also fetched: {attachment.get('role') or 'attachment'} ({index})", described))
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.autofit = False
    for label, value in rows:
        cells = table.add_row().cells
        for cell, text, width in zip(cells, (label, value), _COLUMNS, strict=True):
            cell.text = xml_text(text)
            cell.width = width
            for run in cell.paragraphs[0].runs:
                run.font.size = Pt(9)


def _plain(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# -- the tracked changes ---------------------------------------------------------------------


class _Changes:
    """Builds tracked runs: each `w:ins` / `w:del` with its own id, all by Rulewatch at one date."""

    def __init__(self, date: str):
        self.date = date
        self.ids: Iterator[int] = itertools.count(1)

    def mark(self, tag: str) -> BaseOxmlElement:
        element = OxmlElement(tag)
        element.set(qn("w:id"), str(next(self.ids)))
        element.set(qn("w:author"), AUTHOR)
        element.set(qn("w:date"), self.date)
        return element

    def add(self, paragraph: Paragraph, op: Op) -> None:
        text = xml_text(op.text)
        if not text:
            return
        if op.op == "equal":
            paragraph._p.append(_run(text, deleted=False))
            return
        change = self.mark("w:ins" if op.op == "insert" else "w:del")
        change.append(_run(text, deleted=op.op == "delete"))
        paragraph._p.append(change)

    def mark_paragraph(self, paragraph: Paragraph, tag: str) -> None:
        """The paragraph's own mark inserted or deleted: the whole paragraph is new, or gone."""
        properties = paragraph._p.get_or_add_pPr()
        run_properties = OxmlElement("w:rPr")
        run_properties.append(self.mark(tag))
        properties.append(run_properties)


def _run(text: str, deleted: bool) -> BaseOxmlElement:
    run = OxmlElement("w:r")
    for piece in re.split(r"(\t|\r\n|\n|\r)", text):
        if piece == "\t":
            run.append(OxmlElement("w:tab"))
        elif piece in ("\n", "\r", "\r\n"):
            run.append(OxmlElement("w:br"))
        elif piece:
            element = OxmlElement("w:delText" if deleted else "w:t")
            element.set(qn("xml:space"), "preserve")
            element.text = piece
            run.append(element)
    return run


def _redline(document: WordDocument, comparison: Comparison) -> None:
    redline = comparison.redline
    changes = _Changes(iso(comparison.new.fetched_at) or "")
    if redline.old_title or redline.new_title:
        title = document.add_paragraph(style="Heading 2")
        for op in diff_words(redline.old_title, redline.new_title):
            changes.add(title, op)
        if not redline.new_title:
            changes.mark_paragraph(title, "w:del")
        elif not redline.old_title:
            changes.mark_paragraph(title, "w:ins")
    for hunk in redline.hunks:
        block = hunk.new or hunk.old
        paragraph = document.add_paragraph(style=_STYLES.get(block.kind if block else "", "Normal"))
        for op in hunk.ops:
            changes.add(paragraph, op)
        has_old, has_new = hunk_sides(hunk)
        if has_old and not has_new:
            changes.mark_paragraph(paragraph, "w:del")
        elif has_new and not has_old:
            changes.mark_paragraph(paragraph, "w:ins")
