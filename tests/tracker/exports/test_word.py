"""The Word redline (tracker.exports.word): Word's own tracked changes, read back by python-docx.

Accepting every tracked change must give the newer version's text and rejecting every
one the older's: the tests read the document's XML both ways and compare.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import docx
import pytest
from docx.oxml.ns import qn
from fastapi.testclient import TestClient
from lxml import etree

from storage.db import session_scope
from storage.models import Document, Version
from tests.support.history import GUIDANCE, PRESS
from tracker.compare import Comparison, compare_versions
from tracker.exports.word import AUTHOR, MEDIA_TYPE, redline_docx
from tracker.reading.content import Block, Content
from tracker.redline.compute import diff_contents
from tracker.severity.model import Assessment
from tracker.shapes import iso
from tracker.web.app import create_app

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
REDLINE_HEADING = "The document, with its changes tracked"


def body_of(data: bytes):
    return docx.Document(io.BytesIO(data)).element.body


def redline_paragraphs(data: bytes) -> list:
    """The paragraphs of the redline: after its heading, before the closing line."""
    paragraphs = list(body_of(data).iter(f"{W}p"))
    texts = ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in paragraphs]
    start = texts.index(REDLINE_HEADING) + 1
    return paragraphs[start:-1]


def mark_of(paragraph) -> str:
    """'ins' or 'del' when the paragraph's own mark is tracked, else ''."""
    for tag in ("ins", "del"):
        if paragraph.find(f"{W}pPr/{W}rPr/{W}{tag}") is not None:
            return tag
    return ""


def text_of(paragraph, accept: bool) -> str:
    """The paragraph's text with its changes accepted (or rejected)."""
    out = []
    for element in paragraph.iter(f"{W}t", f"{W}delText"):
        change = next((a for a in element.iterancestors(f"{W}ins", f"{W}del")), None)
        kind = etree.QName(change).localname if change is not None else ""
        if (accept and kind != "del") or (not accept and kind != "ins"):
            out.append(element.text or "")
    return "".join(out)


def version_text(data: bytes, accept: bool) -> list[str]:
    """The redline's paragraphs once every change is accepted (or rejected)."""
    gone = "del" if accept else "ins"  # a paragraph whose own mark goes away merges into the next one
    return [text_of(p, accept) for p in redline_paragraphs(data) if mark_of(p) != gone]


def in_memory(old: Content, new: Content) -> Comparison:
    """A comparison of two versions that were never stored."""

    def version(number: int, content: Content, at: datetime) -> Version:
        return Version(
            document_id=1,
            number=number,
            fetched_at=at,
            url="https://www.bis.gov/guidance",
            final_url="https://www.bis.gov/guidance",
            status=200,
            headers={"Content-Type": "text/html", "ETag": f'"v{number}"'},
            sha256=f"{number}" * 64,
            content_hash=f"{number + 4}" * 64,
            content_sha256=f"{number + 2}" * 64,
            title=content.title,
            evidence={"stage": "published"},
        )

    document = Document(
        id=1,
        source_id=1,
        key="guidance",
        url="https://www.bis.gov/guidance",
        title=new.title,
        first_seen_at=datetime(2025, 5, 13, tzinfo=UTC),
        last_seen_at=datetime(2025, 5, 20, tzinfo=UTC),
        latest_version=2,
    )
    return Comparison(
        document,
        version(1, old, datetime(2025, 5, 13, 9, tzinfo=UTC)),
        version(2, new, datetime(2025, 5, 20, 9, 30, tzinfo=UTC)),
        diff_contents(old, new),
        Assessment("substantive", ("a sentence removed in § 1: 'Huawei'",)),
    )


OLD = Content(
    "Guidance",
    (
        Block("§ 1 Scope", "heading", "§ 1", "§ 1"),
        Block("Exporters may ship widgets to partners in any country.", section="§ 1"),
        Block("Using Huawei Ascend chips anywhere violates U.S. export controls.", section="§ 1"),
        Block("Applications are answered by mail within thirty days of receipt.", section="§ 1"),
        Block("§ 2 Contacts", "heading", "§ 2", "§ 2"),
        Block("Write to the Office of Exporter Services for anything else.", section="§ 2"),
    ),
)
NEW = Content(
    "Guidance, revised",
    (
        Block("§ 1 Scope", "heading", "§ 1", "§ 1"),
        Block("Exporters may not ship widgets to partners in any country.", section="§ 1"),
        Block("§ 2 Contacts", "heading", "§ 2", "§ 2"),
        Block("Write to the Office of Exporter Services for anything else.", section="§ 2"),
        Block("Applications are answered by mail within thirty days of receipt.", section="§ 2"),
        Block("New guidance on chips follows.", "item", section="§ 2"),
    ),
)


def expected(content: Content) -> list[str]:
    return [content.title, *(block.text for block in content.blocks)]


def test_accepting_every_change_gives_the_new_version_and_rejecting_them_the_old():
    data = redline_docx(in_memory(OLD, NEW), "bis")
    assert version_text(data, accept=True) == expected(NEW)
    assert version_text(data, accept=False) == expected(OLD)


def test_changes_are_words_own_tracked_changes_by_rulewatch_dated_at_the_new_fetch():
    data = redline_docx(in_memory(OLD, NEW), "bis")
    changes = list(body_of(data).iter(f"{W}ins", f"{W}del"))
    assert len(changes) >= 6  # a word inserted, two paragraphs moved (out and in), one deleted, one added, a title
    assert {c.get(qn("w:author")) for c in changes} == {AUTHOR}
    assert {c.get(qn("w:date")) for c in changes} == {"2025-05-20T09:30:00Z"}
    ids = [c.get(qn("w:id")) for c in changes]
    assert len(set(ids)) == len(ids) and all(i.isdigit() for i in ids)
    for change in body_of(data).iter(f"{W}del"):
        if change.getparent().tag != f"{W}rPr":  # a deleted paragraph mark holds no text
            assert change.find(f".//{W}t") is None and change.find(f".//{W}delText") is not None
    for change in body_of(data).iter(f"{W}ins"):
        assert change.find(f".//{W}delText") is None
    deleted = "".join(t.text for t in body_of(data).iter(f"{W}delText"))
    assert "Using Huawei Ascend chips anywhere violates U.S. export controls." in deleted
    inserted = [text_of(c, accept=True) for c in body_of(data).iter(f"{W}ins") if c.getparent().tag != f"{W}rPr"]
    assert "not " in inserted and "New guidance on chips follows." in inserted


def test_sections_stay_word_headings_and_items_list_items():
    document = docx.Document(io.BytesIO(redline_docx(in_memory(OLD, NEW), "bis")))
    styles = {text_of(p._p, accept=True): p.style.name for p in document.paragraphs}
    assert styles["§ 1 Scope"] == styles["§ 2 Contacts"] == "Heading 3"
    assert styles["Guidance, revised"] == "Heading 2"  # the document's title, its change tracked
    assert styles["New guidance on chips follows."] == "List Bullet"
    assert styles[REDLINE_HEADING] == styles["Evidence"] == styles["Why it matters"] == "Heading 1"


def test_the_reasons_and_both_versions_evidence_come_first():
    comparison = in_memory(OLD, NEW)
    document = docx.Document(io.BytesIO(redline_docx(comparison, "bis")))
    text = [p.text for p in document.paragraphs]
    assert text.index("Why it matters") < text.index("Evidence") < text.index(REDLINE_HEADING)
    assert "Severity: substantive" in text and "a sentence removed in § 1: 'Huawei'" in text
    assert "Version 1" in text and "Version 2" in text
    first, second = ({row.cells[0].text: row.cells[1].text for row in table.rows} for table in document.tables)
    for rows, version in ((first, comparison.old), (second, comparison.new)):
        assert version is not None
        assert rows["Fetched at"] == iso(version.fetched_at)
        assert rows["HTTP status"] == "200" and rows["Fetched from"] == version.final_url
        assert rows["SHA-256 of the raw bytes"] == version.sha256
        assert rows["SHA-256 of the normalized content"] == version.content_hash
        assert rows["HTTP header ETag"] == f'"v{version.number}"' and rows["stage"] == "published"
    assert document.core_properties.author == AUTHOR


def test_fetched_text_is_escaped_and_what_xml_cannot_hold_is_dropped():
    hostile = "<w:t>&amp; \x01\x0b\x1f\ufffe</w:t> ]]> \x85 tab\there"
    old = Content("Title", (Block("A plain paragraph stays.", section=""),))
    new = Content("Title \x07", (Block("A plain paragraph stays.", section=""), Block(hostile)))
    data = redline_docx(in_memory(old, new), "bis\x00")
    assert version_text(data, accept=True) == [
        "Title ",
        "A plain paragraph stays.",
        "<w:t>&amp; </w:t> ]]> \x85 tabhere",
    ]
    [paragraph] = [p for p in redline_paragraphs(data) if "]]>" in text_of(p, accept=True)]
    assert paragraph.find(f".//{W}tab") is not None  # the tab kept as Word's tab
    assert b"&lt;w:t&gt;&amp;amp;" in _document_xml(data)


def _document_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("word/document.xml")


def test_a_first_version_is_all_inserted():
    comparison = in_memory(OLD, NEW)
    first = Comparison(comparison.document, None, comparison.new, diff_contents(None, NEW), None)
    data = redline_docx(first, "bis")
    assert version_text(data, accept=True) == expected(NEW)
    assert version_text(data, accept=False) == []
    text = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
    assert "The first version: there is nothing to compare it with." in text


# --- from the database: the CLI and the web ------------------------------------------------


def test_the_web_serves_the_word_redline_and_the_evidence(shared_history):
    client = TestClient(create_app(shared_history.config, shared_history.engine))
    guidance = shared_history.documents[GUIDANCE]
    answer = client.get(f"/documents/{guidance}/diff/export.docx?from=2&to=3")
    assert answer.status_code == 200 and answer.headers["content-type"] == MEDIA_TYPE
    assert answer.headers["content-disposition"] == f'attachment; filename="redline-{guidance}-v2-v3.docx"'
    with session_scope(shared_history.engine) as session:
        document = session.get(Document, guidance)
        assert document is not None
        comparison = compare_versions(session, document, 2, 3)
        new = comparison.new.model_dump()
    assert version_text(answer.content, accept=True) == expected_stored(comparison, new=True)
    assert version_text(answer.content, accept=False) == expected_stored(comparison, new=False)
    dates = {c.get(qn("w:date")) for c in body_of(answer.content).iter(f"{W}ins", f"{W}del")}
    assert dates == {iso(new["fetched_at"])}

    page = client.get(f"/documents/{guidance}/diff?from=2&to=3")
    assert f'href="/documents/{guidance}/diff/export.docx?from=2&amp;to=3"' in page.text

    evidence = client.get(f"/documents/{guidance}/versions/3/evidence.warc.gz")
    assert evidence.status_code == 200 and evidence.headers["content-type"] == "application/warc"
    assert evidence.headers["content-disposition"].startswith(f'attachment; filename="rulewatch-doc{guidance}-v3-')
    assert evidence.content[:2] == b"\x1f\x8b"  # gzip: each record a member
    history_page = client.get(f"/documents/{guidance}")
    assert f'href="/documents/{guidance}/versions/3/evidence.warc.gz"' in history_page.text

    for path in (
        f"/documents/{guidance}/versions/9/evidence.warc.gz",
        "/documents/9999/versions/1/evidence.warc.gz",
        f"/documents/{guidance}/diff/export.docx?to=9",
        "/documents/9999/diff/export.docx",
    ):
        assert client.get(path).status_code == 404, path


def expected_stored(comparison: Comparison, new: bool) -> list[str]:
    redline = comparison.redline
    blocks = [h.new if new else h.old for h in redline.hunks]
    return [redline.new_title if new else redline.old_title, *(b.text for b in blocks if b is not None)]


def test_the_web_redline_shows_fetched_markup_as_text(shared_history):
    client = TestClient(create_app(shared_history.config, shared_history.engine))
    press = shared_history.documents[PRESS]
    answer = client.get(f"/documents/{press}/diff/export.docx?from=1&to=2")
    assert answer.status_code == 200
    accepted = "\n".join(version_text(answer.content, accept=True))
    assert "<script>alert(1)</script>" in accepted and "<img src=x onerror=alert(1)>" in accepted
    assert b"<script>" not in _document_xml(answer.content)


@pytest.fixture
def cli_config(shared_history, tmp_path):
    path = tmp_path / "rulewatch.toml"
    path.write_text(f'[database]\nurl = "{shared_history.config.database_url}"\n', encoding="utf-8")
    return path


def test_the_cli_writes_the_word_file(shared_history, cli_config, tmp_path):
    from click.testing import CliRunner

    from tracker.cli import app

    out = tmp_path / "redline.docx"
    guidance = str(shared_history.documents[GUIDANCE])
    args = ["--config", str(cli_config), "diff", guidance, "--from", "2", "--to", "3"]
    done = CliRunner().invoke(app, [*args, "--format", "docx", "--output", str(out)])
    assert done.exit_code == 0, done.output
    inserted = [text_of(c, accept=True) for c in body_of(out.read_bytes()).iter(f"{W}ins")]
    assert "not " in inserted  # the negation of version 3
    assert docx.Document(str(out)).core_properties.author == AUTHOR
    refused = CliRunner().invoke(app, [*args, "--format", "docx"])
    assert (
        refused.exit_code == 2 and "--format docx writes a Word file: name it with --output FILE.docx" in refused.output
    )
    text_file = tmp_path / "redline.txt"
    written = CliRunner().invoke(app, [*args, "--output", str(text_file)])
    shown = CliRunner().invoke(app, args)
    assert written.exit_code == shown.exit_code == 0
    assert text_file.read_text(encoding="utf-8") == shown.stdout
