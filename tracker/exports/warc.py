"""A version's fetches as a WARC 1.1 file: its evidence, in the form any web archive tool reads.

The file holds a `warcinfo` record saying what it is and what Rulewatch could not
record; then, for each fetch the version was read from (the document, then its
attachments: a Federal Register document's full text, the listing a filing was
found in), a `request` and a `response` record linked by WARC-Concurrent-To and
dated when the fetch was made, redirect hops first; and last a `metadata` record
of Rulewatch's own facts about the version. Every digest is SHA-256, so a
response's WARC-Payload-Digest is the SHA-256 Rulewatch stored for its bytes, in
base 32.

Bodies are stored decoded (the crawler undoes Content-Encoding and chunking), so a
response record carries the stored bytes with headers that describe them: a
received Content-Encoding or Transfer-Encoding, and a Content-Length other than the
stored body's, are kept under `X-Rulewatch-Received-` names. A body Rulewatch built
itself from what it fetched (a filing's record cut from the day's listing, a RIN's
record read from the Unified Agenda) is a `conversion` record that refers to the
response it came from. Versions stored before requests were recorded are written
from what was kept, and the warcinfo record says what that leaves out.
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import IO, Any
from urllib.parse import quote, urlsplit

from sqlmodel import Session
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from storage.blobs import get_blob
from storage.models import Document, Version
from tracker.items import Exchange
from tracker.printable import describe_error
from tracker.shapes import iso

WARC_1_1 = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
RECEIVED = "X-Rulewatch-Received-"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~-._"  # kept as they are; spaces, controls and non-ASCII are %-encoded
_UNDONE = ("content-encoding", "transfer-encoding")  # what the crawler undid before the body was stored


class EvidenceError(Exception):
    """The version's evidence cannot be written; the message says why."""


@dataclass
class _Fetch:
    """One fetch: its exchanges (redirect hops first, the body's own last) and the body kept of the last."""

    role: str
    exchanges: list[Exchange]
    body: bytes | None  # None: not kept whole (its response record is marked truncated)
    stored_headers: dict[str, str]  # stored with the body: they tell which encodings the crawler undid
    at: datetime  # when the body's own exchange was made
    recorded: bool  # the exchanges were recorded as made, not rebuilt from what a version kept
    response_id: str = ""


@dataclass
class _Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


class _Writer(WARCWriter):
    """warcio's writer with SHA-256 digests: the digest Rulewatch keeps of every body."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def warc_digest(sha256_hex: str) -> str:
    """A SHA-256 in hex as a WARC digest: `sha256:` and the digest in base 32."""
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode("ascii")


def evidence_filename(document: Document, version: Version) -> str:
    return f"rulewatch-doc{document.id}-v{version.number}-{version.sha256[:12]}.warc.gz"


def write_evidence(session: Session, document: Document, version: Version, source: str, out: IO[bytes]) -> None:
    """Write the WARC file of `version` of `document`, from the source named `source`, to `out`.

    Each record is its own gzip member, as `.warc.gz` files are."""
    notes = _Notes()
    writer = _Writer(out, gzip=True, warc_version="1.1")
    main, attachments = _fetches(session, version, notes)
    composed = _composed(version)
    # A composed body's own response is an attachment fetched from the same URL (a filing's listing), if kept.
    origin = next((a for a in attachments if composed and a.body is not None and _same_url(a, main)), None)
    records: list[ArcWarcRecord] = []
    responses: list[dict[str, str]] = []
    for fetch in [main, *attachments] if origin is None else attachments:
        body = None if fetch is main and composed else fetch.body
        records.extend(_fetch_records(writer, fetch, body, notes))
        responses.append({"role": fetch.role, "record": fetch.response_id, "uri": _uri(fetch.exchanges[-1].url)})
    if composed:
        source_fetch = origin or main
        conversion = _record(
            writer,
            "conversion",
            _uri(source_fetch.exchanges[-1].url),
            version.fetched_at,
            _blob(session, version.sha256, "the document's body"),
            content_type=_field_value(version.content_type or "application/octet-stream"),
            extra={"WARC-Refers-To": source_fetch.response_id},
        )
        records.append(conversion)
        body_id = conversion.rec_headers.get_header("WARC-Record-ID")
        responses.append({"role": "document, composed", "record": body_id, "uri": _uri(source_fetch.exchanges[-1].url)})
        notes.add(
            "The document's body was composed by Rulewatch from what it fetched (one record of a listing or a "
            "report): it is the conversion record, which refers to the response it was read from."
        )
        if origin is None:
            notes.add(
                "The response that body was read from was not kept whole (a report shared by many documents): "
                "its record holds the status and headers alone and is marked WARC-Truncated."
            )
    else:
        body_id = main.response_id
    records.append(_metadata(writer, document, version, source, body_id, responses))
    filename = evidence_filename(document, version)
    writer.write_record(_warcinfo(writer, document, version, source, filename, notes))
    for record in records:
        writer.write_record(record)


# -- what was fetched --------------------------------------------------------------------------


def _fetches(session: Session, version: Version, notes: _Notes) -> tuple[_Fetch, list[_Fetch]]:
    """The version's own fetch and its attachments' fetches, with their bodies."""
    evidence = version.evidence
    http = evidence.get("http") or {}
    exchanges = [Exchange.from_json(data) for data in http.get("exchanges", [])]
    recorded = bool(exchanges)
    if not recorded:
        exchanges = [_rebuilt(version.final_url, version.status, version.headers, version.fetched_at)]
        notes.add(
            f"Version {version.number} was stored before Rulewatch recorded its requests: a request record holds "
            "the method, the URL and Host alone, and a response record the headers as stored (a repeated header "
            "joined by commas) under an HTTP/1.1 status line."
        )
    body = _blob(session, version.sha256, "the document's body")
    main = _Fetch("document", exchanges, body, dict(version.headers), version.fetched_at, recorded)
    attachments = []
    for index, attachment in enumerate(evidence.get("attachments", [])):
        attachments.append(_attachment(session, version, index, attachment, notes))
    return main, attachments


def _attachment(session: Session, version: Version, index: int, attachment: dict, notes: _Notes) -> _Fetch:
    role = str(attachment.get("role") or f"attachment {index}")
    headers = {str(k): str(v) for k, v in (attachment.get("headers") or {}).items()}
    at = _time(attachment.get("fetched_at")) or version.fetched_at
    if attachment.get("fetched_at") is None:
        notes.add("The attachments' fetch times were not recorded: their records are dated at the version's fetch.")
    exchanges = [Exchange.from_json(data) for data in (attachment.get("http") or {}).get("exchanges", [])]
    recorded = bool(exchanges)
    if not recorded:
        status = int(attachment.get("status") or 200)
        exchanges = [_rebuilt(str(attachment.get("url", "")), status, headers, at)]
    sha256 = attachment.get("sha256")
    body = _blob(session, sha256, f"attachment {index} ({role})") if sha256 else None
    return _Fetch(role, exchanges, body, headers, at, recorded)


def _rebuilt(url: str, status: int, headers: dict[str, str], at: datetime) -> Exchange:
    """The exchange of a fetch made before exchanges were recorded: what the version kept of it."""
    host = urlsplit(url).netloc.rpartition("@")[2]
    return Exchange("GET", url, (("Host", host),), status, "HTTP/1.1", tuple(headers.items()), at)


def _composed(version: Version) -> bool:
    http = version.evidence.get("http")
    if http:
        return bool(http.get("composed"))
    # Stored before the flag: the kinds whose spiders compose a body (federal_register's filings, reginfo's RINs).
    return version.evidence.get("stage") == "public_inspection" or version.evidence.get("format") == "reginfo"


def _same_url(attachment: _Fetch, main: _Fetch) -> bool:
    return attachment.exchanges[-1].url == main.exchanges[-1].url


def _blob(session: Session, sha256: str, what: str) -> bytes:
    try:
        return get_blob(session, sha256)
    except Exception as exc:
        raise EvidenceError(f"{what} cannot be read back from the database: {describe_error(exc)}") from None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- records -----------------------------------------------------------------------------------


def _fetch_records(writer: _Writer, fetch: _Fetch, body: bytes | None, notes: _Notes) -> list[ArcWarcRecord]:
    """A request and a response record for each exchange of the fetch; the last response holds `body`."""
    records = []
    for position, exchange in enumerate(fetch.exchanges):
        last = position == len(fetch.exchanges) - 1
        kept = body if last else None
        at = fetch.at if last else exchange.at
        response = _response(writer, exchange, kept, fetch.stored_headers if last else {}, at, notes)
        if kept is None:
            response.rec_headers.add_header("WARC-Truncated", "unspecified")
            if not last:
                notes.add("Redirects and retried answers are kept as their status and headers alone (WARC-Truncated).")
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request = _record(
            writer,
            "request",
            _uri(exchange.url),
            at,
            b"",
            http_headers=StatusAndHeaders(
                # Scrapy's HTTP/1.1 handler (Twisted's client) asks in HTTP/1.1, whatever the server answers in.
                f"{_method(exchange.method)} {_target(exchange.url)} HTTP/1.1",
                _fields(exchange.request_headers),
                is_http_request=True,
            ),
            extra={"WARC-Concurrent-To": response_id},
        )
        records.extend([request, response])
        fetch.response_id = response_id
    return records


def _response(
    writer: _Writer, exchange: Exchange, body: bytes | None, stored: dict[str, str], at: datetime, notes: _Notes
) -> ArcWarcRecord:
    payload = body if body is not None else b""
    headers = list(exchange.response_headers)
    if body is not None:
        headers = _describing(headers, stored, len(payload), notes)
    try:
        reason = HTTPStatus(exchange.status).phrase
    except ValueError:
        reason = ""
    status_line = f"{exchange.status} {reason}".strip()
    return _record(
        writer,
        "response",
        _uri(exchange.url),
        at,
        payload,
        http_headers=StatusAndHeaders(status_line, _fields(headers), protocol=_protocol(exchange.protocol)),
    )


def _describing(
    headers: list[tuple[str, str]], stored: dict[str, str], length: int, notes: _Notes
) -> list[tuple[str, str]]:
    """The received headers, changed only where they no longer describe the stored body."""
    kept_names = {name.lower() for name in stored}
    out = []
    for name, value in headers:
        lower = name.lower()
        undone = lower in _UNDONE and (lower == "transfer-encoding" or lower not in kept_names)
        if undone or (lower == "content-length" and value.strip() != str(length)):
            out.append((RECEIVED + name, value))
            notes.add(
                "Bodies are kept decoded: where a received Content-Encoding, Transfer-Encoding or Content-Length "
                f"no longer describes the stored body, it is kept as {RECEIVED}<name> and the body's length given."
            )
        else:
            out.append((name, value))
    if any(name.lower() == f"{RECEIVED.lower()}content-length" for name, _ in out) or not any(
        name.lower() == "content-length" for name, _ in out
    ):
        out.append(("Content-Length", str(length)))
    return out


def _record(
    writer: _Writer,
    kind: str,
    uri: str,
    at: datetime,
    payload: bytes,
    http_headers: StatusAndHeaders | None = None,
    content_type: str | None = None,
    extra: dict[str, str] | None = None,
) -> ArcWarcRecord:
    headers = {"WARC-Record-ID": _record_id(), "WARC-Date": _date(at), **(extra or {})}
    return writer.create_warc_record(
        uri,
        kind,
        payload=io.BytesIO(payload),
        length=len(payload),
        http_headers=http_headers,
        warc_content_type=content_type,
        warc_headers_dict=headers,
    )


def _metadata(
    writer: _Writer, document: Document, version: Version, source: str, body_id: str, responses: list[dict]
) -> ArcWarcRecord:
    """Rulewatch's facts about the version, as JSON, referring to the record of its body."""
    evidence = {k: v for k, v in version.evidence.items() if k not in ("attachments", "http")}
    facts = {
        "document": {"id": document.id, "key": document.key, "url": document.url, "source": source},
        "version": version.number,
        "fetched_at": iso(version.fetched_at),
        "url": version.url,
        "final_url": version.final_url,
        "status": version.status,
        "content_type": version.content_type,
        "title": version.title,
        "sha256": version.sha256,
        "content_sha256": version.content_sha256,
        "content_hash": version.content_hash,
        "evidence": evidence,
        "attachments": [
            {key: a.get(key) for key in ("role", "url", "status", "content_type", "sha256", "fetched_at")}
            for a in version.evidence.get("attachments", [])
        ],
        "records": responses,
    }
    payload = json.dumps(facts, indent=2, sort_keys=True).encode()
    return _record(
        writer,
        "metadata",
        _uri(version.url),
        version.fetched_at,
        payload,
        content_type="application/json",
        extra={"WARC-Refers-To": body_id},
    )


def _warcinfo(
    writer: _Writer, document: Document, version: Version, source: str, filename: str, notes: _Notes
) -> ArcWarcRecord:
    try:
        software = f"Rulewatch {package_version('rulewatch')} (warcio {package_version('warcio')})"
    except PackageNotFoundError:
        software = "Rulewatch"
    title = document.title or version.title or document.url
    fields = [
        ("software", software),
        ("format", "WARC File Format 1.1"),
        ("conformsTo", WARC_1_1),
        (
            "description",
            f"The evidence of version {version.number} of document {document.id} ({document.key}) of the source "
            f"{source!r}, {title!r}: the fetches it was read from, as Rulewatch made them on {iso(version.fetched_at)}.",
        ),
        ("url", version.url),
        *(("note", line) for line in notes.lines),
    ]
    payload = "".join(f"{name}: {_field_value(value)}\r\n" for name, value in fields).encode("utf-8")
    return _record(
        writer,
        "warcinfo",
        "",
        datetime.now(UTC),
        payload,
        content_type="application/warc-fields",
        extra={"WARC-Filename": filename},
    )


# -- making fetched values safe in a WARC header --------------------------------------------------


def _fields(pairs: Any) -> list[tuple[str, str]]:
    """Header pairs with every name a token and no value able to end its line."""
    return [(_field_name(str(name)), _field_value(str(value))) for name, value in pairs]


def _field_name(name: str) -> str:
    if _TOKEN.fullmatch(name):
        return name
    return "".join(char if _TOKEN.fullmatch(char) else quote(char, safe="") for char in name) or "X-Empty"


def _field_value(value: str) -> str:
    return _FIELD_CONTROLS.sub(lambda match: quote(match.group(), safe=""), value)


def _uri(url: str) -> str:
    return quote(url, safe=_URI_SAFE)


def _target(url: str) -> str:
    parts = urlsplit(_uri(url))  # quoted first: urlsplit would drop a CR or LF silently
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _method(method: str) -> str:
    return method if _TOKEN.fullmatch(method) else "GET"


def _protocol(protocol: str) -> str:
    return protocol if re.fullmatch(r"HTTP/[0-9](\.[0-9])?", protocol) else "HTTP/1.1"


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _date(moment: datetime) -> str:
    return iso(moment) or ""
