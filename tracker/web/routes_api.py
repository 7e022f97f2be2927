"""The JSON API: the same shapes as the command line's --json output (tracker.schemas).

/api/changes          as `rulewatch changes --json`, with the /changes filters
/api/events/{id}/review   a review action (tracker.web.routes_review)
/api/documents        as `rulewatch documents --json`
/api/documents/{id}   one of those
/api/documents/{id}/versions   as `rulewatch history DOC --json`, plus each version's evidence
/api/documents/{id}/diff       as `rulewatch diff DOC --format json`
/api/sources          source health
/api/expectations     as `rulewatch expectations --json`, each with its thread
/api/expectations/{name}   one of those
/api/search?q=        as `rulewatch search QUERY --json`
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlmodel import Session

from storage.models import Document
from storage.repository import (
    MAX_ROW_ID,
    get_source,
    list_documents,
    list_events,
    list_sources,
    list_versions,
)
from tracker.compare import ComparisonError, compare_versions
from tracker.expectations import expectation_row, expectation_rows
from tracker.schemas import (
    ChangeEvent,
    DocumentSummary,
    ExpectationStatus,
    Redline,
    SearchHit,
    SourceHealth,
    VersionRecord,
    events_json,
)
from tracker.search import SearchError, hit_json, search
from tracker.settings import Config
from tracker.shapes import document_summary_json, version_json
from tracker.web.common import get_config, get_session
from tracker.web.queries import FilterError, change_filters, source_health

# Every answer is checked against its model and keeps exactly the keys it was built with.
router = APIRouter(prefix="/api", tags=["api"])


def _document(session: Session, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise HTTPException(404, f"There is no document {document_id}.")
    return document


@router.get("/changes", response_model=list[ChangeEvent], response_model_exclude_unset=True)
def changes(
    source: str = Query("", description="Only this source."),
    severity: str = Query("", description="Keep changes at least this severe (and all other events)."),
    event: str = Query("", description="Only this kind: new, changed, removed, expectation_met."),
    since: str = Query("", description="Detected at or after this ISO 8601 date or time."),
    until: str = Query("", description="Detected at or before this ISO 8601 time (a bare date: that whole day)."),
    limit: int = Query(0, ge=0, le=MAX_ROW_ID, description="At most this many (0: all)."),
    session: Session = Depends(get_session),
) -> list[dict]:
    """Events, newest first."""
    try:
        filters = change_filters(session, source=source, severity=severity, event=event, since=since, until=until)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from None
    return events_json(session, list_events(session, limit=limit or None, **filters))


@router.get("/documents", response_model=list[DocumentSummary], response_model_exclude_unset=True)
def documents(session: Session = Depends(get_session)) -> list[dict]:
    """Every tracked document."""
    sources = {s.id: s for s in list_sources(session)}
    return [document_summary_json(d, sources[d.source_id]) for d in list_documents(session)]


@router.get("/documents/{document_id:id}", response_model=DocumentSummary, response_model_exclude_unset=True)
def document(document_id: int, session: Session = Depends(get_session)) -> dict:
    """One document."""
    found = _document(session, document_id)
    sources = {s.id: s for s in list_sources(session)}
    return document_summary_json(found, sources[found.source_id])


@router.get(
    "/documents/{document_id:id}/versions", response_model=list[VersionRecord], response_model_exclude_unset=True
)
def versions(document_id: int, session: Session = Depends(get_session)) -> list[dict]:
    """A document's versions, oldest first, with their fetch evidence."""
    _document(session, document_id)  # a 404 when there is no such document
    return [{**version_json(v), "evidence": dict(v.evidence)} for v in list_versions(session, document_id)]


@router.get("/documents/{document_id:id}/diff", response_model=Redline, response_model_exclude_unset=True)
def diff(
    document_id: int,
    from_: int | None = Query(
        None, alias="from", ge=0, le=MAX_ROW_ID, description="Older version (default: the one before `to`)."
    ),
    to: int | None = Query(None, ge=0, le=MAX_ROW_ID, description="Newer version (default: the latest)."),
    session: Session = Depends(get_session),
) -> dict:
    """A redline between two versions: severity, reasons and ops."""
    found = _document(session, document_id)
    try:
        return compare_versions(session, found, from_, to).to_json()
    except ComparisonError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/sources", response_model=list[SourceHealth], response_model_exclude_unset=True)
def sources(session: Session = Depends(get_session), config: Config = Depends(get_config)) -> list[dict]:
    """Each source's health: last success, last failure and why, failures in a row, stale."""
    return source_health(session, config)


@router.get("/expectations", response_model=list[ExpectationStatus], response_model_exclude_unset=True)
def expectations(session: Session = Depends(get_session), config: Config = Depends(get_config)) -> list[dict]:
    """Each promised document: waiting, or met (when, by which document), and its thread."""
    return expectation_rows(session, config, with_thread=True)


@router.get("/expectations/{name}", response_model=ExpectationStatus, response_model_exclude_unset=True)
def expectation(name: str, session: Session = Depends(get_session), config: Config = Depends(get_config)) -> dict:
    """One promised document: waiting or met, and its thread."""
    row = expectation_row(session, config, name)
    if row is None:
        known = ", ".join(e.name for e in config.expectations) or "none"
        raise HTTPException(404, f"There is no expectation {name!r} in the configuration (configured: {known}).")
    return row


@router.get("/search", response_model=list[SearchHit], response_model_exclude_unset=True)
def search_versions(
    q: str = Query("", description='Words (every one must occur) or a "quoted phrase".'),
    source: str = Query("", description="Only this source's documents."),
    session: Session = Depends(get_session),
) -> list[dict]:
    """Every stretch of versions of a document that has the query: first and last version, the version it was gone in."""
    source_id = None
    if source:
        row = get_source(session, source)
        if row is None:
            raise HTTPException(400, f"source: no source named {source!r} has been checked yet")
        source_id = row.id
    try:
        return [hit_json(hit) for hit in search(session, q, source_id)]
    except SearchError as exc:
        raise HTTPException(400, f"q: {exc}") from None
