"""A version's evidence as a WARC 1.1 file (tracker.exports.warc), read back by warcio.

Versions stored before exchanges were recorded are ingested from the snapshots the
spiders yielded then (tests/test_golden_files.py builds them from genuine answers);
a loopback crawl records its exchanges, and `warcio check` and `warcio index` (the
command-line tools) read what is exported from it.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select
from warcio.archiveiterator import ArchiveIterator

from storage.blobs import get_blob
from storage.db import open_database, session_scope
from storage.models import Document, Source, Version
from tests.conftest import FILES
from tests.test_golden_files import GENUINE, federal_register_snapshot, reginfo_snapshot
from tracker.config import load_config
from tracker.crawl.launch import run_check
from tracker.exports.warc import evidence_filename, warc_digest, write_evidence
from tracker.ingest import Ingestor
from tracker.items import Snapshot
from tracker.kinds.federal_register.config import FederalRegisterConfig
from tracker.kinds.page.config import PageConfig
from tracker.kinds.reginfo.config import ReginfoConfig
from tracker.shapes import iso

PAGE = (FILES / "pages" / "guidance_v1.html").read_bytes()
GUIDANCE = "https://www.bis.gov/guidance/advanced-computing"
WARCIO = [sys.executable, "-m", "warcio.cli"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@dataclass
class Record:
    type: str
    headers: dict[str, str]  # the WARC headers
    http: list[tuple[str, str]] | None  # the HTTP headers, in order
    status_line: str
    payload: bytes


def read_warc(data: bytes) -> list[Record]:
    """Every record, its digests checked as it is read (a mismatch raises)."""
    records = []
    for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
        http = record.http_headers
        records.append(
            Record(
                record.rec_type,
                dict(record.rec_headers.headers),
                list(http.headers) if http else None,
                f"{http.protocol} {http.statusline}".strip() if http else "",
                record.content_stream().read(),
            )
        )
    return records


def ingested(database_url: str, source, snapshot: Snapshot):
    engine = open_database(database_url)
    ingestor = Ingestor(engine, source, progress=lambda line: None)
    ingestor.handle(snapshot)
    assert not ingestor.tally.failures, ingestor.tally.failures
    return engine


def export(engine, number: int = 1) -> tuple[bytes, Document, Version]:
    with session_scope(engine) as session:
        document = session.exec(select(Document)).one()
        version = session.exec(select(Version).where(Version.number == number)).one()
        source = session.get(Source, document.source_id)
        out = io.BytesIO()
        write_evidence(session, document, version, source.name if source else "", out)
        return out.getvalue(), document, version


def blob(engine, sha256: str) -> bytes:
    with session_scope(engine) as session:
        return get_blob(session, sha256)


def note_text(warcinfo: Record) -> str:
    return warcinfo.payload.decode()


def test_a_version_stored_before_requests_were_recorded_is_written_from_what_was_kept(database_url):
    source = PageConfig(name="bis", kind="page", interval=3600, url=GUIDANCE)
    headers = {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"', "Set-Cookie": "a=1, b=2"}
    snapshot = Snapshot("bis", GUIDANCE, GUIDANCE, GUIDANCE, 200, headers, PAGE, utc(2025, 5, 13, 14))
    engine = ingested(database_url, source, snapshot)
    data, document, version = export(engine)

    warcinfo, request, response, metadata = read_warc(data)
    assert [r.type for r in (warcinfo, request, response, metadata)] == ["warcinfo", "request", "response", "metadata"]
    assert all(r.headers["WARC-Record-ID"].startswith("<urn:uuid:") for r in (warcinfo, request, response, metadata))
    assert warcinfo.headers["WARC-Filename"] == evidence_filename(document, version)
    info = note_text(warcinfo)
    assert "format: WARC File Format 1.1\r\n" in info and "software: Rulewatch " in info
    assert "stored before Rulewatch recorded its requests" in info

    assert request.headers["WARC-Concurrent-To"] == response.headers["WARC-Record-ID"]
    assert request.headers["WARC-Target-URI"] == response.headers["WARC-Target-URI"] == GUIDANCE
    assert request.headers["WARC-Date"] == response.headers["WARC-Date"] == "2025-05-13T14:00:00Z"
    assert request.status_line == "GET /guidance/advanced-computing HTTP/1.1"
    assert request.http == [("Host", "www.bis.gov")]

    assert response.status_line == "HTTP/1.1 200 OK"
    assert response.http == [*headers.items(), ("Content-Length", str(len(PAGE)))]
    assert response.payload == PAGE
    assert response.headers["WARC-Payload-Digest"] == warc_digest(version.sha256)
    assert "WARC-Truncated" not in response.headers

    facts = json.loads(metadata.payload)
    assert metadata.headers["WARC-Refers-To"] == response.headers["WARC-Record-ID"]
    assert metadata.headers["Content-Type"] == "application/json"
    assert (facts["version"], facts["sha256"], facts["fetched_at"]) == (1, version.sha256, "2025-05-13T14:00:00Z")
    assert facts["document"] == {"id": document.id, "key": GUIDANCE, "url": GUIDANCE, "source": "bis"}


def test_a_federal_register_document_and_its_full_text_are_two_fetches(database_url):
    source = FederalRegisterConfig(
        name="federal-register", kind="federal_register", interval=3600, base_url="https://www.federalregister.gov"
    )
    engine = ingested(database_url, source, federal_register_snapshot(GENUINE / "federal_register" / "2026-19417.json"))
    data, _, version = export(engine)

    records = read_warc(data)
    assert [r.type for r in records] == ["warcinfo", "request", "response", "request", "response", "metadata"]
    _, _, document_json, text_request, text, metadata = records
    assert document_json.headers["WARC-Target-URI"] == version.final_url
    assert document_json.payload == blob(engine, version.sha256)
    [attachment] = version.evidence["attachments"]
    assert (
        text.headers["WARC-Target-URI"] == attachment["url"] == "https://www.federalregister.gov/2026-19417.body.html"
    )
    assert text.payload == (GENUINE / "federal_register" / "2026-19417.body.html").read_bytes()
    assert text.headers["WARC-Payload-Digest"] == warc_digest(attachment["sha256"])
    assert text_request.headers["WARC-Concurrent-To"] == text.headers["WARC-Record-ID"]
    assert text.headers["WARC-Date"] == iso(version.fetched_at)  # when the attachment was fetched was not kept
    assert "their records are dated at the version's fetch" in note_text(records[0])
    roles = [r["role"] for r in json.loads(metadata.payload)["records"]]
    assert roles == ["document", "full_text"]


def test_a_composed_body_is_a_conversion_of_the_response_it_was_read_from(database_url):
    source = ReginfoConfig(name="reginfo", kind="reginfo", interval=3600, rins=("0694-AJ90",), agencies=("0503",))
    snapshot = reginfo_snapshot(GENUINE / "reginfo" / "reginfo-rin-data-202510.xml")
    engine = ingested(database_url, source, snapshot)
    data, _, version = export(engine)

    warcinfo, request, report, conversion, metadata = read_warc(data)
    assert (request.type, report.type, conversion.type) == ("request", "response", "conversion")
    # The report itself (the whole agenda) is not kept: its record is its head alone, marked truncated.
    assert report.headers["WARC-Target-URI"] == snapshot.final_url and report.payload == b""
    assert report.headers["WARC-Truncated"] == "unspecified"
    assert conversion.headers["WARC-Refers-To"] == report.headers["WARC-Record-ID"]
    assert conversion.headers["WARC-Target-URI"] == snapshot.final_url
    assert conversion.payload == snapshot.body and conversion.headers["Content-Type"] == "application/xml"
    assert conversion.headers["WARC-Payload-Digest"] == warc_digest(version.sha256)
    assert metadata.headers["WARC-Refers-To"] == conversion.headers["WARC-Record-ID"]
    info = note_text(warcinfo)
    assert "composed by Rulewatch" in info and "marked WARC-Truncated" in info


def test_fetched_headers_and_urls_cannot_forge_warc_lines(database_url):
    source = PageConfig(name="bis", kind="page", interval=3600, url=GUIDANCE)
    forged = "x\r\n\r\nWARC/1.1\r\nWARC-Type: response"
    headers = {"Content-Type": "text/html", "X-Note": forged, "Bad Name\r\nWARC-Type": "v"}
    final_url = "https://www.bis.gov/a b\r\nWARC-Type: resource"
    snapshot = Snapshot("bis", GUIDANCE, GUIDANCE, final_url, 200, headers, PAGE, utc(2025, 5, 13, 14))
    data, _, _ = export(ingested(database_url, source, snapshot))

    records = read_warc(data)
    assert [r.type for r in records] == ["warcinfo", "request", "response", "metadata"]
    response = records[2]
    assert response.headers["WARC-Target-URI"] == "https://www.bis.gov/a%20b%0D%0AWARC-Type:%20resource"
    assert dict(response.http or [])["X-Note"] == "x%0D%0A%0D%0AWARC/1.1%0D%0AWARC-Type: response"
    assert dict(response.http or [])["Bad%20Name%0D%0AWARC-Type"] == "v"
    assert records[1].status_line == "GET /a%20b%0D%0AWARC-Type:%20resource HTTP/1.1"


# --- a crawl records its exchanges ----------------------------------------------------------


def test_a_crawled_version_keeps_what_was_sent_and_received(server, write_config, tmp_path):
    server.set("/old", b"moved", status=301, headers={"Location": server.url("/page")})
    server.set("/page", gzip.compress(PAGE), headers={"Content-Encoding": "gzip"})
    config = load_config(write_config(f'[[sources]]\nname = "watched"\nkind = "page"\nurl = "{server.url("/old")}"\n'))
    engine = open_database(config.database_url)
    [result] = run_check(config, engine, ["watched"])
    assert result.status == "ok" and result.new_versions == 1
    data, document, version = export(engine)

    records = read_warc(data)
    types = [r.type for r in records]
    assert types == ["warcinfo", "request", "response", "request", "response", "metadata"]
    _, hop_request, hop, request, response, _ = records
    # The redirect: its head alone, dated when it was answered.
    assert hop_request.headers["WARC-Target-URI"] == hop.headers["WARC-Target-URI"] == server.url("/old")
    assert hop.status_line == "HTTP/1.0 301 Moved Permanently" and hop.headers["WARC-Truncated"] == "unspecified"
    assert dict(hop.http or [])["Location"] == server.url("/page")
    assert hop_request.headers["WARC-Concurrent-To"] == hop.headers["WARC-Record-ID"]

    # The request as the server received it, header for header.
    [received] = server.hits_for("/page")
    sent = dict(request.http or [])
    assert sent == received.headers
    assert request.status_line == "GET /page HTTP/1.1"
    assert request.headers["WARC-Concurrent-To"] == response.headers["WARC-Record-ID"]

    # The body as stored (decoded), with headers that describe it and the received ones kept.
    assert response.payload == PAGE == blob(engine, version.sha256)
    assert response.headers["WARC-Payload-Digest"] == warc_digest(version.sha256)
    assert response.headers["WARC-Date"] == iso(version.fetched_at)
    head = dict(response.http or [])
    assert head["X-Rulewatch-Received-Content-Encoding"] == "gzip" and "Content-Encoding" not in head
    assert head["X-Rulewatch-Received-Content-Length"] == str(len(gzip.compress(PAGE)))
    assert head["Content-Length"] == str(len(PAGE))
    info = note_text(records[0])
    assert "stored before" not in info and "X-Rulewatch-Received-<name>" in info

    # Any WARC tool reads it: warcio's own checker and indexer, as a person would run them.
    path = tmp_path / evidence_filename(document, version)
    path.write_bytes(data)
    checked = subprocess.run([*WARCIO, "check", "-v", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("digest pass") == 6 and "fail" not in checked.stdout
    indexed = subprocess.run(
        [*WARCIO, "index", "-f", "warc-type,warc-target-uri,http:status", str(path)], capture_output=True, text=True
    )
    assert indexed.returncode == 0, indexed.stderr
    rows = [json.loads(line) for line in indexed.stdout.splitlines()]
    assert [(r["warc-type"], r.get("http:status")) for r in rows] == [
        ("warcinfo", None),
        ("request", None),
        ("response", "301"),
        ("request", None),
        ("response", "200"),
        ("metadata", None),
    ]


def test_the_cli_writes_the_file_and_says_what_is_wrong(tmp_path, database_url):
    from click.testing import CliRunner

    from tracker.cli import app

    source = PageConfig(name="bis", kind="page", interval=3600, url=GUIDANCE)
    snapshot = Snapshot("bis", GUIDANCE, GUIDANCE, GUIDANCE, 200, {"Content-Type": "text/html"}, PAGE, utc(2025, 5, 13))
    ingested(database_url, source, snapshot)
    config = tmp_path / "rulewatch.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    out = tmp_path / "evidence.warc.gz"

    done = CliRunner().invoke(app, ["--config", str(config), "export", GUIDANCE, "--output", str(out)])
    assert done.exit_code == 0, done.output
    assert [r.type for r in read_warc(out.read_bytes())] == ["warcinfo", "request", "response", "metadata"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []

    missing = CliRunner().invoke(app, ["--config", str(config), "export", "1", "--version", "2", "--output", str(out)])
    assert missing.exit_code == 2 and "document 1 has no version 2; it has versions 1 to 1" in missing.output
    nowhere = tmp_path / "no-such-folder" / "x.warc.gz"
    failed = CliRunner().invoke(app, ["--config", str(config), "export", "1", "--output", str(nowhere)])
    assert failed.exit_code == 2 and f"cannot write {nowhere}" in failed.output
    assert not Path(nowhere).parent.exists()
