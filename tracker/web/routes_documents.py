"""The dashboard, documents with their evidence, raw snapshots, and redlines.

Raw snapshots are fetched bytes from elsewhere: they are only ever downloaded
(application/octet-stream, attachment, nosniff, a sandboxing CSP), never shown
as a page of this site.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

from storage.blobs import get_blob
from storage.models import Document, Source
from storage.repository import (
    MAX_ROW_ID,
    get_version,
    list_documents,
    list_events,
    list_sources,
    list_versions,
)
from tracker.compare import Comparison, ComparisonError, compare_versions
from tracker.expectations import expectation_rows
from tracker.health import FAILING_AFTER, STALE_AFTER
from tracker.redline.render import default_context, render_html, side_by_side_html
from tracker.settings import Config
from tracker.web.changenav import mark_changes
from tracker.web.common import (
    bad_request,
    get_config,
    get_session,
    message,
    not_found,
    page,
)
from tracker.web.queries import event_rows, source_health, version_evidence
from tracker.web.redline_picks import changed_sections, substantive_only
from tracker.web.render import standalone_redline
from tracker.web.routes_review import redline_reviews

router = APIRouter(tags=["pages"], include_in_schema=False)

DASHBOARD_EVENTS = 50
DOCUMENT_EVENTS = 50
VIEWS = ("inline", "side")
RAW_CSP = "default-src 'none'; sandbox"
EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/json": ".json",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "text/html": ".html",
    "text/plain": ".txt",
}


@router.get("/")
def dashboard(request: Request, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    return page(
        request,
        "dashboard.html",
        sources=source_health(session, config),
        rows=event_rows(session, list_events(session, limit=DASHBOARD_EVENTS)),
        expectations=expectation_rows(session, config),
        stale_after=STALE_AFTER,
        failing_after=FAILING_AFTER,
    )


@router.get("/documents")
def documents(request: Request, session: Session = Depends(get_session)):
    names = {source.id: source.name for source in list_sources(session)}
    rows = [{"document": d, "source": names.get(d.source_id, "")} for d in list_documents(session)]
    return page(request, "documents.html", rows=rows)


@router.get("/documents/{document_id:id}")
def document_page(request: Request, document_id: int, session: Session = Depends(get_session)):
    document = session.get(Document, document_id)
    if document is None:
        return not_found(request, f"There is no document {document_id}.")
    versions = list_versions(session, document_id)
    return page(
        request,
        "document.html",
        document=document,
        source=session.get(Source, document.source_id),
        versions=[version_evidence(v) for v in reversed(versions)],
        numbers=[v.number for v in versions],
        rows=event_rows(session, list_events(session, document_id=document.id, limit=DOCUMENT_EVENTS)),
    )


@router.get("/documents/{document_id:id}/versions/{number:id}/raw")
def raw_snapshot(request: Request, document_id: int, number: int, session: Session = Depends(get_session)):
    version = get_version(session, document_id, number)
    if version is None:
        return not_found(request, f"Document {document_id} has no version {number}.")
    name = f"rulewatch-doc{document_id}-v{number}-{version.sha256[:12]}{_extension(version.content_type)}"
    return _download(get_blob(session, version.sha256), name)


@router.get("/documents/{document_id:id}/versions/{number:id}/attachments/{index:id}/raw")
def raw_attachment(
    request: Request, document_id: int, number: int, index: int, session: Session = Depends(get_session)
):
    version = get_version(session, document_id, number)
    attachments = version_evidence(version)["attachments"] if version else []
    if not 0 <= index < len(attachments) or "sha256" not in attachments[index]:
        return not_found(request, f"Document {document_id} has no attachment {index} in version {number}.")
    attachment = attachments[index]
    extension = _extension(str(attachment.get("content_type", "")))
    name = f"rulewatch-doc{document_id}-v{number}-attachment{index}-{attachment['sha256'][:12]}{extension}"
    return _download(get_blob(session, attachment["sha256"]), name)


@router.get("/documents/{document_id:id}/versions/{number:id}/evidence.warc.gz")
def version_evidence_warc(request: Request, document_id: int, number: int, session: Session = Depends(get_session)):
    """The version's fetches as a WARC 1.1 file (tracker.exports.warc)."""
    # Exports load their libraries (warcio, python-docx) when first asked for, not with the service.
    from tracker.exports.warc import EvidenceError, evidence_filename, write_evidence

    document = session.get(Document, document_id)
    version = get_version(session, document_id, number) if document else None
    if document is None or version is None:
        return not_found(request, f"Document {document_id} has no version {number}.")
    source = session.get(Source, document.source_id)
    out = io.BytesIO()
    try:
        write_evidence(session, document, version, source.name if source else "", out)
    except EvidenceError as exc:
        return message(request, 500, "Evidence unavailable", str(exc))
    return Response(
        out.getvalue(),
        media_type="application/warc",
        headers={
            "Content-Disposition": f'attachment; filename="{evidence_filename(document, version)}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _extension(content_type: str) -> str:
    return EXTENSIONS.get(content_type.split(";", maxsplit=1)[0].strip().lower(), ".bin")


def _download(data: bytes, filename: str) -> Response:
    """Bytes as a file to save, never as something the browser renders."""
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": RAW_CSP,
        },
    )


@router.get("/documents/{document_id:id}/diff")
def document_diff(
    request: Request,
    document_id: int,
    from_: str | None = Query(default=None, alias="from"),
    to: str | None = None,
    view: str = "inline",
    only: str = "",
    context: str = "",
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    """The redline page. `view` is inline or side; `only=substantive` keeps the substantive paragraphs;
    a long redline shows its unchanged paragraphs collapsed unless `context=all`."""
    if view not in VIEWS:
        return bad_request(request, f"view: expected inline or side, got {view!r}")
    if only not in ("", "substantive"):
        return bad_request(request, f"only: expected substantive or nothing, got {only!r}")
    if context not in ("", "all"):
        return bad_request(request, f"context: expected all or nothing, got {context!r}")
    found = _comparison(request, session, document_id, from_, to)
    if not isinstance(found, Comparison):
        return found
    comparison = found
    shown = substantive_only(comparison.redline) if only else comparison.redline
    around = 0 if only else None if context == "all" else default_context(shown)
    # Both renderers escape every piece of fetched text themselves.
    body = side_by_side_html(shown, around) if view == "side" else render_html(shown, around)
    body, changes = mark_changes(body)
    link = _diff_link(comparison)
    return page(
        request,
        "diff.html",
        comparison=comparison,
        document=comparison.document,
        redline_html=Markup(body),
        changes=changes,
        view=view,
        only=bool(only),
        nothing_shown=bool(only) and not shown.changed,
        sections=changed_sections(shown),
        inline_url=link(view="inline", only=only),
        side_url=link(view="side", only=only),
        only_url=link(view=view, only="substantive"),
        full_url=link(view=view, only=""),
        collapsed=around is not None and not only,
        expand_url=link(view=view, context="all"),
        export_url=link(path="/diff/export"),
        docx_url=link(path="/diff/export.docx"),
        next_url=link(view=view, only=only, context=context),
        **redline_reviews(
            request,
            session,
            config,
            document_id,
            comparison.old.number if comparison.old else None,
            comparison.new.number,
        ),
    )


@router.get("/documents/{document_id:id}/diff/export")
def export_diff(
    request: Request,
    document_id: int,
    from_: str | None = Query(default=None, alias="from"),
    to: str | None = None,
    session: Session = Depends(get_session),
):
    """The redline as a standalone HTML file, to attach to a memo."""
    found = _comparison(request, session, document_id, from_, to)
    if not isinstance(found, Comparison):
        return found
    old = f"-v{found.old.number}" if found.old else ""
    filename = f"redline-{document_id}{old}-v{found.new.number}.html"
    return Response(
        standalone_redline(found),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/documents/{document_id:id}/diff/export.docx")
def export_diff_docx(
    request: Request,
    document_id: int,
    from_: str | None = Query(default=None, alias="from"),
    to: str | None = None,
    session: Session = Depends(get_session),
):
    """The redline as a Word document whose changes are tracked changes (tracker.exports.word)."""
    from tracker.exports.word import MEDIA_TYPE, docx_filename, redline_docx

    found = _comparison(request, session, document_id, from_, to)
    if not isinstance(found, Comparison):
        return found
    source = session.get(Source, found.document.source_id)
    return Response(
        redline_docx(found, source.name if source else ""),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{docx_filename(found)}"'},
    )


def _comparison(request: Request, session: Session, document_id: int, from_: str | None, to: str | None):
    """The comparison asked for, or the 404 page that says why there is none."""
    document = session.get(Document, document_id)
    if document is None:
        return not_found(request, f"There is no document {document_id}.")
    try:
        return compare_versions(session, document, version_number(from_), version_number(to))
    except (ComparisonError, ValueError) as exc:
        return not_found(request, str(exc))


def _diff_link(comparison: Comparison):
    """A builder of links to other views of the same two versions."""

    def link(path: str = "/diff", view: str = "inline", only: str = "", context: str = "") -> str:
        query: dict[str, int | str] = {"from": comparison.old.number} if comparison.old else {}
        query["to"] = comparison.new.number
        if view != "inline":
            query["view"] = view
        if only:
            query["only"] = only
        if context:
            query["context"] = context
        return f"/documents/{comparison.document.id}{path}?{urlencode(query)}"

    return link


def version_number(value: str | None) -> int | None:
    """A version number from the query string; empty means "the default"."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ROW_ID:
        raise ValueError(f"{value!r} is not a version number")
    return int(value)
