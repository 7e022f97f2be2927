"""The exports of the demo's data, read by the tools a reader would use.

The demo is played once for the module (as tests/tracker/test_demo.py does); then every
version's evidence is exported with `rulewatch export` and checked with `warcio check`,
and the Word redline of BIS's silent edit of its press release is converted to PDF by
LibreOffice, where the deleted Huawei sentence must be drawn struck through.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import ContentStream
from sqlmodel import select
from warcio.archiveiterator import ArchiveIterator

from storage.db import open_database, session_scope
from storage.models import Document, Event, Version
from tracker.cli import app
from tracker.demo.run import run_demo
from tracker.demo.story import PRESS_RELEASE
from tracker.exports.warc import warc_digest
from tracker.shapes import iso

DELETED = "Issuing guidance that using Huawei Ascend chips anywhere in the world violates U.S. export controls;"
INSERTED = (
    "Issuing guidance on the risks of using People's Republic of China (PRC) advanced-computing "
    "integrated circuits, including specific Huawei Ascend chips;"
)
TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
DC_NS = "http://purl.org/dc/elements/1.1/"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder, echo=lambda line: None)
    engine = open_database(f"sqlite:///{folder / 'rulewatch.db'}")
    yield folder, engine
    engine.dispose()


def cli(folder: Path, *args: str):
    result = CliRunner().invoke(app, ["--config", str(folder / "rulewatch.toml"), *args])
    assert result.exit_code == 0, result.output
    return result


def records(path: Path) -> list:
    with path.open("rb") as stream:
        return [
            (record.rec_type, dict(record.rec_headers.headers), record.content_stream().read())
            for record in ArchiveIterator(stream, check_digests="raise")
        ]


def test_warcio_check_passes_on_the_evidence_of_every_version(demo, tmp_path):
    folder, engine = demo
    with session_scope(engine) as session:
        versions = [(v.document_id, v.number, v.sha256, dict(v.evidence)) for v in session.exec(select(Version))]
    assert len(versions) >= 15
    files = []
    for document_id, number, *_ in versions:
        path = tmp_path / f"doc{document_id}-v{number}.warc.gz"
        cli(folder, "export", str(document_id), "--version", str(number), "--output", str(path))
        files.append(path)

    checked = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, files)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "fail" not in checked.stdout
    indexed = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "index", *map(str, files)], capture_output=True, text=True
    )
    assert indexed.returncode == 0, indexed.stderr
    assert indexed.stdout.count('"warc-type": "warcinfo"') == len(files)

    for path, (_, number, sha256, evidence) in zip(files, versions, strict=True):
        read = records(path)
        assert checked.stdout.count(f"{path}\n") == 1
        kinds = [kind for kind, _, _ in read]
        assert kinds[0] == "warcinfo" and kinds[-1] == "metadata"
        assert b"stored before Rulewatch recorded its requests" not in read[0][2]  # the demo's crawls recorded them
        by_id = {headers["WARC-Record-ID"]: (kind, headers, payload) for kind, headers, payload in read}
        for kind, headers, _ in read:
            if kind == "request":  # each request names its response, at the same URL and time
                _, response, _ = by_id[headers["WARC-Concurrent-To"]]
                assert response["WARC-Type"] == "response"
                assert (headers["WARC-Target-URI"], headers["WARC-Date"]) == (
                    response["WARC-Target-URI"],
                    response["WARC-Date"],
                )
        # The record of the version's body carries the stored SHA-256 as its payload digest.
        body_kind, body, _ = by_id[read[-1][1]["WARC-Refers-To"]]
        assert body["WARC-Payload-Digest"] == warc_digest(sha256)
        attachments = evidence.get("attachments", [])
        for attachment in attachments:
            digests = [h.get("WARC-Payload-Digest") for k, h, _ in read if k == "response"]
            assert warc_digest(attachment["sha256"]) in digests
        if evidence.get("stage") == "public_inspection":  # the filing cut from the day's listing
            assert body_kind == "conversion"
            listing = next(a for a in attachments if a["role"] == "listing")
            _, source, _ = by_id[body["WARC-Refers-To"]]
            assert source["WARC-Target-URI"] == listing["url"]
            assert source["WARC-Payload-Digest"] == warc_digest(listing["sha256"])
        elif evidence.get("http", {}).get("composed"):  # a RIN's record, cut from reginfo.gov's reports
            assert body_kind == "conversion"
        else:
            assert body_kind == "response"
        assert number >= 1


# --- the Word redline, through LibreOffice -----------------------------------------------------


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.fail("LibreOffice is needed: apt-get install libreoffice-writer (.ci/run installs it)")
    return found


def convert(document: Path, to: str, profile: Path) -> Path:
    """LibreOffice's own conversion, headless, with a profile of its own."""
    done = subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            to,
            "--outdir",
            str(document.parent),
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "HOME": str(profile)},
    )
    converted = document.with_suffix(f".{to}")
    assert done.returncode == 0 and converted.exists(), done.stdout + done.stderr
    return converted


@pytest.fixture(scope="module")
def silent_edit(demo, tmp_path_factory):
    """The Word redline of the press release's silent edit, and the fetch time of the edited version."""
    folder, engine = demo
    with session_scope(engine) as session:
        [release] = session.exec(select(Document).where(Document.url.endswith(PRESS_RELEASE))).all()
        events = session.exec(select(Event).where(Event.document_id == release.id, Event.kind == "changed")).all()
        [edit] = [e for e in events if any("Huawei Ascend" in reason for reason in e.reasons)]
        edited = session.exec(
            select(Version).where(Version.document_id == release.id, Version.number == edit.to_version)
        ).one()
        when = iso(edited.fetched_at)
    out = tmp_path_factory.mktemp("redline") / "silent-edit.docx"
    cli(
        folder,
        "diff",
        str(release.id),
        "--from",
        str(edit.from_version),
        "--to",
        str(edit.to_version),
        "--format",
        "docx",
        "--output",
        str(out),
    )
    return out, when


def test_the_silent_edit_converts_to_pdf_with_the_huawei_sentence_struck_through(silent_edit, tmp_path):
    document, _ = silent_edit
    pdf = convert(document, "pdf", tmp_path / "profile")
    reader = PdfReader(pdf)
    assert " ".join(" ".join(page.extract_text() for page in reader.pages).split()).count(DELETED) == 1

    struck, crossed = [], []
    for page in reader.pages:
        lines = horizontal_strokes(page, reader)
        for text, x, y, size in text_runs(page):
            through = any(
                abs(x1 - x) < 2 and 0.15 * size < ly - y < 0.6 * size and x2 - x1 > 0.35 * size * len(text.rstrip())
                for x1, x2, ly in lines
            )
            if len(text.strip()) > 10 and text.strip() in DELETED:
                struck.append((text, through))
            if len(text.strip()) > 10 and text.strip() in INSERTED:
                crossed.append((text, through))
    # Every line of the deleted sentence has a stroke through the middle of its letters;
    # the inserted sentence beside it has none (it is underlined, below its baseline).
    assert struck and all(through for _, through in struck), struck
    assert crossed and not any(through for _, through in crossed), crossed


def test_libreoffice_reads_the_sentence_as_a_tracked_deletion_by_rulewatch(silent_edit, tmp_path):
    document, when = silent_edit
    flat = etree.parse(str(convert(document, "fodt", tmp_path / "profile")))
    regions = {}
    for region in flat.iter(f"{{{TEXT_NS}}}changed-region"):
        [change] = [child for child in region if child.tag in (f"{{{TEXT_NS}}}deletion", f"{{{TEXT_NS}}}insertion")]
        info = change.find(f"{{{OFFICE_NS}}}change-info")
        regions[region.get(f"{{{TEXT_NS}}}id")] = (
            etree.QName(change).localname,
            info.findtext(f"{{{DC_NS}}}creator"),
            info.findtext(f"{{{DC_NS}}}date"),
        )
    spans = changed_text(flat.find(f".//{{{OFFICE_NS}}}text"))
    by_text = {" ".join(spans[key].split()): regions[key] for key in spans}
    # LibreOffice keeps dates without their zone: the same moment, in UTC.
    assert by_text[DELETED] == ("deletion", "Rulewatch", when.removesuffix("Z"))
    assert by_text[INSERTED] == ("insertion", "Rulewatch", when.removesuffix("Z"))


def changed_text(root) -> dict[str, str]:
    """The text between each change-start and change-end of a flat ODF body, by change id."""
    open_ids: set[str] = set()
    found: dict[str, str] = {}

    def add(text: str | None) -> None:
        for key in open_ids:
            found[key] = found.get(key, "") + (text or "")

    def walk(element) -> None:
        if element.tag == f"{{{TEXT_NS}}}change-start":
            open_ids.add(element.get(f"{{{TEXT_NS}}}change-id"))
        elif element.tag == f"{{{TEXT_NS}}}change-end":
            open_ids.discard(element.get(f"{{{TEXT_NS}}}change-id"))
        elif element.tag == f"{{{TEXT_NS}}}p":
            add(" ")
        add(element.text)
        for child in element:
            walk(child)
            add(child.tail)

    walk(root)
    return found


def text_runs(page) -> list[tuple[str, float, float, float]]:
    """(text, x, y of its baseline, font size) of each run of text on the page."""
    runs = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            runs.append((text, x, y, size * abs(tm[3] * cm[3] or 1)))

    page.extract_text(visitor_text=visit)
    return runs


def horizontal_strokes(page, reader) -> list[tuple[float, float, float]]:
    """(x from, x to, y) of each horizontal line the page strokes, in page coordinates."""
    strokes = []
    matrix, saved, path, start = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), [], [], (0.0, 0.0)

    def point(x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f = matrix
        return a * x + c * y + e, b * x + d * y + f

    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"q":
            saved.append(matrix)
        elif operator == b"Q":
            matrix = saved.pop() if saved else matrix
        elif operator == b"cm":
            a, b, c, d, e, f = (float(v) for v in operands)
            m = matrix
            matrix = (
                a * m[0] + b * m[2],
                a * m[1] + b * m[3],
                c * m[0] + d * m[2],
                c * m[1] + d * m[3],
                e * m[0] + f * m[2] + m[4],
                e * m[1] + f * m[3] + m[5],
            )
        elif operator == b"m":
            start = point(float(operands[0]), float(operands[1]))
        elif operator == b"l":
            end = point(float(operands[0]), float(operands[1]))
            path.append((start, end))
            start = end
        elif operator in (b"S", b"s"):
            for (x1, y1), (x2, y2) in path:
                if abs(y1 - y2) < 0.01:
                    strokes.append((min(x1, x2), max(x1, x2), y1))
            path = []
        elif operator in (b"n", b"f", b"F", b"f*", b"B", b"b"):
            path = []
    return strokes


def test_every_demo_version_records_what_its_crawl_sent(demo):
    """The evidence names what the demo's crawl sent: Rulewatch's own User-Agent, for every fetch."""
    _, engine = demo
    with session_scope(engine) as session:
        versions = list(session.exec(select(Version)))
    agents = set()
    for version in versions:
        for exchange in version.evidence["http"]["exchanges"]:
            agents.add(dict(exchange["request_headers"])["User-Agent"])
    assert len(agents) == 1 and agents.pop().startswith("Rulewatch/")
    assert all(re.fullmatch(r"HTTP/1\.[01]", v.evidence["http"]["exchanges"][-1]["protocol"]) for v in versions)
