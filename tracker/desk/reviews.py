"""Reviews of events: each minor or substantive change and each expectation met is `new` until a
reviewer says it is `in_review`, `reviewed` or `not_relevant`, with notes. Every action is a row of
the audit log: who, when, the event, the status before and after, the note."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.db import insert_if_absent, utcnow
from storage.models import Event, Review, ReviewNote, UserAccount
from storage.repository import lock_review
from storage.reviewable import is_reviewable
from tracker.desk.accounts import REVIEWER_ROLES
from tracker.desk.audit import record

STATUSES = ("new", "in_review", "reviewed", "not_relevant")
OPEN_STATUSES = ("new", "in_review")  # what the queue shows first
MAX_NOTE = 10_000  # characters


class ReviewError(ValueError):
    """A review action that cannot be taken; the message says why."""


def check_reviewer(user: UserAccount | None, email: str) -> UserAccount:
    """The account, when it may review (the command line's --as); else ReviewError saying why not."""
    if user is None:
        raise ReviewError(f"{email} has no account; add one with `rulewatch users add {email} --role reviewer`")
    if user.role not in REVIEWER_ROLES:
        raise ReviewError(f"{user.email} is a {user.role}: only reviewers and admins review events")
    return user


def review_event(
    session: Session, event_id: int, status: str, note: str, actor: str, now: datetime | None = None
) -> tuple[Event, str, str]:
    """Set an event's review status (the same one again is allowed, to add a note) and keep the note.
    Returns the event, and its status before and after. LookupError for an unknown event."""
    now = now or utcnow()
    if status not in STATUSES:
        raise ReviewError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ReviewError(f"note: at most {MAX_NOTE} characters, got {len(note)}")
    event = session.get(Event, event_id)
    if event is None:
        raise LookupError(f"There is no event {event_id}.")
    if not is_reviewable(event):
        what = f"a {event.severity} change" if event.kind == "changed" else f"a {event.kind} event"
        raise ReviewError(
            f"Event {event_id} is {what}: only minor and substantive changes and expectations met are reviewed."
        )
    # The row exists before it is locked, so two reviewers at once queue on it, each seeing the other's status.
    insert_if_absent(session, Review, ["event_id"], {"event_id": event_id, "status": "new"})
    review = lock_review(session, event_id)
    if review is None:
        raise LookupError(f"the review of event {event_id} written just now cannot be read back")
    before = review.status
    review.status, review.reviewed_by, review.reviewed_at = status, actor, now
    if note:
        session.add(ReviewNote(event_id=event_id, author=actor, written_at=now, text=note))
    record(session, actor, "review", now, event_id=event_id, from_status=before, to_status=status, note=note or None)
    return event, before, status
