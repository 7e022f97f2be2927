"""Expected documents: each one waiting or met, and its thread, every event of the documents
that met its criteria (the RIN's agenda entry and reviews, the filing, the publication…)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from tracker.expectations import expectation_rows, thread_events
from tracker.settings import Config
from tracker.web.common import get_config, get_session, not_found, page
from tracker.web.queries import event_rows

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/expectations")
def expectations(request: Request, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    return page(request, "expectations.html", expectations=expectation_rows(session, config))


@router.get("/expectations/{name:path}")
def expectation(
    request: Request, name: str, session: Session = Depends(get_session), config: Config = Depends(get_config)
):
    rows = [row for row in expectation_rows(session, config) if row["name"] == name]
    if not rows:
        known = ", ".join(e.name for e in config.expectations) or "none"
        return not_found(request, f"There is no expectation named {name!r} in the configuration (configured: {known}).")
    wanted = next(e for e in config.expectations if e.name == name)
    return page(
        request,
        "expectation.html",
        expectation=rows[0],
        criteria=_criteria(wanted),
        rows=event_rows(session, thread_events(session, name)),
        api_url=f"/api/expectations/{quote(name, safe='')}",
    )


def _criteria(expectation) -> list[tuple[str, str]]:
    """What the configuration asks of a document, as (key, value) lines."""
    given = [
        ("match_any", " · ".join(expectation.match_any)),
        ("match_all", " · ".join(expectation.match_all)),
        ("rin", expectation.rin),
        ("cfr_part", expectation.cfr_part),
        ("sources", ", ".join(expectation.sources)),
    ]
    return [(key, value) for key, value in given if value]
