"""The dashboard and redline pages, where links from emails and feeds land."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from sqlmodel import Session

from storage.models import Document
from storage.repository import list_events, list_sources
from tracker.alerts.story import diff_url
from tracker.diff import render_html
from tracker.review import ReviewError, compare_versions
from tracker.web.common import get_session, not_found, page

router = APIRouter(tags=["documents"])

DASHBOARD_EVENTS = 50


@router.get("/")
def dashboard(request: Request, session: Session = Depends(get_session)):
    sources = list_sources(session)
    names = {source.id: source.name for source in sources}
    rows = []
    for event in list_events(session, limit=DASHBOARD_EVENTS):
        rows.append({
            "event": event,
            "source": names.get(event.source_id, ""),
            "document": session.get(Document, event.document_id),
            "link": diff_url("", event),
        })
    return page(request, "dashboard.html", rows=rows, sources=sources)


@router.get("/documents/{document_id:int}/diff")
def document_diff(
    request: Request,
    document_id: int,
    from_: str | None = Query(default=None, alias="from"),
    to: str | None = None,
    session: Session = Depends(get_session),
):
    document = session.get(Document, document_id)
    if document is None:
        return not_found(request, f"There is no document {document_id}.")
    try:
        comparison = compare_versions(session, document, _version_number(from_), _version_number(to))
    except (ReviewError, ValueError) as exc:
        return not_found(request, str(exc))
    return page(
        request,
        "diff.html",
        comparison=comparison,
        document=comparison.document,
        # render_html escapes every piece of fetched text itself.
        redline_html=Markup(render_html(comparison.redline)),
    )


def _version_number(value: str | None) -> int | None:
    """A version number from the query string; empty means "the default"."""
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise ValueError(f"{value!r} is not a version number")
    return int(value)
