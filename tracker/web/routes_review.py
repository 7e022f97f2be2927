"""The review desk's pages and API: the queue, review actions, the audit log.

/review                       the queue: reviewable events, substantive first, newest first
POST /review/{event_id}       a review action from a form (the redline page's), reviewers and admins
POST /api/events/{id}/review  the same as JSON: {"status": …, "note": …}; answers the event
/admin/audit                  every review action, sign-in and sign-out and account change (admins)
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from storage.models import Event
from storage.repository import (
    get_source,
    list_audit,
    list_sources,
    require_row,
    review_queue,
    reviewable_events_between,
)
from tracker.alerts.event_summary import diff_url
from tracker.desk.reviews import MAX_NOTE, OPEN_STATUSES, STATUSES, ReviewError, review_event
from tracker.schemas import ChangeEvent, events_json
from tracker.settings import Config
from tracker.shapes import iso
from tracker.web.auth import SIGN_IN_API, Reader, form_csrf, form_csrf_valid, local_path, reader_of
from tracker.web.common import (
    bad_request,
    first,
    forbidden,
    form_fields,
    get_config,
    get_session,
    not_found,
    page,
)
from tracker.web.security import CSRF_FIELD

pages = APIRouter(tags=["review"], include_in_schema=False)
api = APIRouter(prefix="/api", tags=["review"])

QUEUE_LIMIT = 200
AUDIT_LIMIT = 500
STATUS_FILTERS = ("open", *STATUSES, "all")
BAD_CSRF = "This form has expired or did not come from this site. Reload the page and try again."
NOT_REVIEWER = "Only reviewers and admins review events; ask an admin to give your account the reviewer role."


def _sign_in_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse("/login?next=" + request.url.path, status_code=303)


@pages.get("/review")
def queue(
    request: Request,
    source: str = "",
    status: str = "open",
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    """The queue: minor and substantive changes and expectations met, with where each review stands."""
    if status not in STATUS_FILTERS:
        return bad_request(request, f"status: expected one of {', '.join(STATUS_FILTERS)}, got {status!r}.")
    source_id = None
    if source:
        row = get_source(session, source)
        if row is None:
            return bad_request(request, f"source: no source named {source!r} has been checked yet.")
        source_id = row.id
    statuses = {"open": list(OPEN_STATUSES), "all": None}.get(status, [status])
    picked = review_queue(session, statuses, source_id, QUEUE_LIMIT)
    events = [event for event, _ in picked]
    return page(
        request,
        "review.html",
        rows=[
            {"event": event, "json": row, "link": diff_url("", event)}
            for event, row in zip(events, events_json(session, events), strict=True)
        ],
        values={"source": source, "status": status},
        source_names=sorted({s.name for s in config.sources} | {s.name for s in list_sources(session)}),
        status_filters=STATUS_FILTERS,
        limit=QUEUE_LIMIT,
        reader=reader_of(request, session, config, bearer=False),
    )


@pages.post("/review/{event_id:id}")
def review_from_form(
    request: Request,
    event_id: int,
    form: dict[str, list[str]] = Depends(form_fields),
    session: Session = Depends(get_session),
    config: Config = Depends(get_config),
):
    reader = reader_of(request, session, config, bearer=False)
    if reader is None:
        return _sign_in_redirect(request)
    if not form_csrf_valid(request, session, config, reader, first(form, CSRF_FIELD)):
        return forbidden(request, BAD_CSRF)
    if not reader.may_review:
        return forbidden(request, NOT_REVIEWER)
    try:
        review_event(session, event_id, first(form, "status"), first(form, "note"), reader.email)
    except LookupError as exc:
        return not_found(request, str(exc))
    except ReviewError as exc:
        return bad_request(request, str(exc))
    session.commit()  # stored before the page shows it
    return RedirectResponse(local_path(first(form, "next"), "/review"), status_code=303)


def review_form(request: Request, session: Session, config: Config, reader: Reader | None) -> dict:
    """What a page needs to offer the review form, or nothing to a reader who may not review."""
    if reader is None or not reader.may_review:
        return {}
    return {"csrf": form_csrf(request, session, config, reader), "statuses": STATUSES, "max_note": MAX_NOTE}


def redline_reviews(
    request: Request, session: Session, config: Config, document_id: int, from_version: int | None, to_version: int
) -> dict:
    """The review panels of a redline page: the reviewable events it shows, where each stands,
    and the form for a reviewer."""
    events = reviewable_events_between(session, document_id, from_version, to_version)
    if not events:
        return {"reviews": []}
    reader = reader_of(request, session, config, bearer=False)
    rows = events_json(session, events)
    return {
        "reviews": [{"event": event, "review": row["review"]} for event, row in zip(events, rows, strict=True)],
        "review_form": review_form(request, session, config, reader),
    }


# -- API --------------------------------------------------------------------------------------------


class ReviewAction(BaseModel):
    status: Literal["new", "in_review", "reviewed", "not_relevant"]
    note: str = Field("", max_length=MAX_NOTE, description="Kept with the review, and in the audit log.")


def api_reviewer(
    request: Request, session: Session = Depends(get_session), config: Config = Depends(get_config)
) -> Reader:
    """The reviewer asking, checked before the body is read: 401, 403, then 415 for anything but JSON."""
    reader = reader_of(request, session, config)
    if reader is None:
        raise HTTPException(401, SIGN_IN_API, headers={"WWW-Authenticate": "Bearer"})
    if not reader.may_review:
        raise HTTPException(403, NOT_REVIEWER)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(415, "Send the review as application/json.")
    return reader


@api.post(
    "/events/{event_id:id}/review",
    response_model=ChangeEvent,
    response_model_exclude_unset=True,
    responses={
        400: {"description": "Not a reviewable event"},
        401: {"description": "Not signed in"},
        403: {"description": "Not a reviewer"},
        404: {"description": "No such event"},
        415: {"description": "Not JSON"},
    },
)
def review_api(
    event_id: int,
    action: ReviewAction,
    reader: Reader = Depends(api_reviewer),
    session: Session = Depends(get_session),
) -> dict:
    """Review an event (reviewers and admins: a signed-in session, or the admin token as a bearer):
    set its status, optionally with a note. Answers the event as in `rulewatch changes --json`."""
    try:
        event, _, _ = review_event(session, event_id, action.status, action.note, reader.email)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except ReviewError as exc:
        raise HTTPException(400, str(exc)) from None
    session.commit()
    [answer] = events_json(session, [event])
    return answer


# -- the audit log ------------------------------------------------------------------------------------


@pages.get("/admin/audit")
def audit(request: Request, session: Session = Depends(get_session), config: Config = Depends(get_config)):
    reader = reader_of(request, session, config)
    if reader is None:
        if config.web.admin_token:
            return RedirectResponse("/admin", status_code=303)  # the admin token's sign-in form
        return _sign_in_redirect(request)
    if not reader.is_admin:
        return forbidden(request, "The audit log is for admins.")
    entries = list_audit(session, AUDIT_LIMIT)
    events = {e.event_id: require_row(session, Event, e.event_id) for e in entries if e.event_id is not None}
    return page(
        request,
        "audit.html",
        entries=[
            {
                "entry": entry,
                "at": iso(entry.at),
                "event": events.get(entry.event_id or 0),
                "link": diff_url("", events[entry.event_id]) if entry.event_id is not None else "",
            }
            for entry in entries
        ],
        limit=AUDIT_LIMIT,
    )
