"""/search: words or a "quoted phrase" across every version of every document."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from storage.repository import get_source, list_sources
from tracker.printable import printable
from tracker.search import MAX_QUERY, SearchError, highlighted, search
from tracker.settings import Config
from tracker.web.common import get_config, get_session, page

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_LIMIT = 200


@router.get("/search")
def search_page(
    request: Request,
    q: str = "",
    source: str = "",
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    hits, error = [], ""
    if q:  # an empty box: the form alone
        try:
            source_id = None
            if source:
                row = get_source(session, source)
                if row is None:
                    raise SearchError(f"no source named {source!r} has been checked yet")
                source_id = row.id
            hits = search(session, q, source_id)
        except SearchError as exc:
            error = f"Cannot search: {exc}."
    given = {name: value for name, value in (("q", q), ("source", source)) if value}
    return page(
        request,
        "search.html",
        status_code=400 if error else 200,
        q=printable(q),  # a control character typed or pasted shows as \x00, not as itself
        source=source,
        error=error,
        searched=bool(q) and not error,
        rows=[{"hit": hit, "pieces": highlighted(hit)} for hit in hits[:PAGE_LIMIT]],
        total=len(hits),
        limit=PAGE_LIMIT,
        max_query=MAX_QUERY,
        source_names=sorted({s.name for s in config.sources} | {s.name for s in list_sources(session)}),
        api_url="/api/search" + (f"?{urlencode(given)}" if given else ""),
    )
