"""The changes list: every event, newest first, filtered by source, severity, event and date."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from storage.repository import list_events, list_sources
from tracker.config import SEVERITIES
from tracker.settings import Config
from tracker.web.common import bad_request, get_config, get_session, page
from tracker.web.queries import EVENT_KINDS, FilterError, change_filters, event_rows

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_LIMIT = 200


@router.get("/changes")
def changes(
    request: Request,
    source: str = "",
    severity: str = "",
    event: str = "",
    since: str = "",
    until: str = "",
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    values = {"source": source, "severity": severity, "event": event, "since": since, "until": until}
    try:
        filters = change_filters(session, **values)
    except FilterError as exc:
        return bad_request(request, f"Cannot filter the changes: {exc}.")
    given = {name: value for name, value in values.items() if value}
    return page(
        request,
        "changes.html",
        rows=event_rows(session, list_events(session, limit=PAGE_LIMIT, **filters)),
        values=values,
        limit=PAGE_LIMIT,
        source_names=sorted({s.name for s in config.sources} | {s.name for s in list_sources(session)}),
        severities=SEVERITIES,
        kinds=EVENT_KINDS,
        api_url="/api/changes" + (f"?{urlencode(given)}" if given else ""),
    )
