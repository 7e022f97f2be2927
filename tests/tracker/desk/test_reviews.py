"""Reviews on SQLite and PostgreSQL: statuses, notes, what `changes --json` shows, and the audit log."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import AuditEntry, Event
from storage.repository import review_queue
from tests.support.contract import REVIEW_FIELDS, REVIEW_NOTE_FIELDS
from tests.support.history import build_history, publish_expected
from tracker.desk.reviews import ReviewError, review_event
from tracker.schemas import events_json

UNTOUCHED = {"status": "new", "by": None, "at": None, "notes": []}


@pytest.fixture
def history(database_url, tmp_path):
    return build_history(database_url, tmp_path)


def reviews_by_label(history) -> dict[str, dict | None]:
    with session_scope(history.engine) as session:
        rows = {row["id"]: row for row in events_json(session, session.exec(select(Event)).all())}
    return {label: rows[event_id]["review"] for label, event_id in history.events.items()}


def test_what_is_reviewed_and_how_an_untouched_review_looks(history):
    expectation_met = publish_expected(history)
    assert reviews_by_label(history) == {
        "cosmetic": None,
        "negation": UNTOUCHED,  # substantive
        "injected": UNTOUCHED,
        "new": None,
        "minor": UNTOUCHED,
        "removed": None,
    }
    with session_scope(history.engine) as session:
        [row] = events_json(session, [session.get(Event, expectation_met)])
        assert row["review"] == UNTOUCHED
        baseline = session.exec(select(Event).where(Event.baseline)).first()
        assert events_json(session, [baseline])[0]["review"] is None


def test_review_actions_keep_status_who_when_notes_and_the_audit_log(history):
    negation = history.events["negation"]
    with session_scope(history.engine) as session:
        assert review_event(session, negation, "in_review", "", "a@example.com")[1:] == ("new", "in_review")
    with session_scope(history.engine) as session:
        _, before, after = review_event(
            session, negation, "reviewed", "  Negation confirmed.\nSee § 744.23.  ", "b@example.com"
        )
        assert (before, after) == ("in_review", "reviewed")
    with session_scope(history.engine) as session:
        review_event(session, negation, "reviewed", "<b>also</b> filed", "a@example.com")  # a note, same status
    review = reviews_by_label(history)["negation"]
    assert set(review) == REVIEW_FIELDS and all(set(n) == REVIEW_NOTE_FIELDS for n in review["notes"])
    assert (review["status"], review["by"]) == ("reviewed", "a@example.com")
    assert review["at"].endswith("Z")
    assert [(n["by"], n["text"]) for n in review["notes"]] == [
        ("b@example.com", "Negation confirmed.\nSee § 744.23."),
        ("a@example.com", "<b>also</b> filed"),
    ]
    with session_scope(history.engine) as session:
        rows = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(r.actor, r.action, r.event_id, r.from_status, r.to_status, r.note) for r in rows] == [
            ("a@example.com", "review", negation, "new", "in_review", None),
            ("b@example.com", "review", negation, "in_review", "reviewed", "Negation confirmed.\nSee § 744.23."),
            ("a@example.com", "review", negation, "reviewed", "reviewed", "<b>also</b> filed"),
        ]
        # One event read alone, as a webhook's is, carries its review too.
        event = session.get(Event, negation)
        [alone] = events_json(session, [event])
        assert alone["review"] == review


def test_events_that_have_no_review_and_bad_actions_are_refused(history):
    with session_scope(history.engine) as session:
        for label, what in (("cosmetic", "a cosmetic change"), ("new", "a new event"), ("removed", "a removed event")):
            with pytest.raises(ReviewError, match=f"is {what}: only minor and substantive changes"):
                review_event(session, history.events[label], "reviewed", "", "a@example.com")
        with pytest.raises(ReviewError, match="status: expected one of new, in_review, reviewed, not_relevant"):
            review_event(session, history.events["minor"], "done", "", "a@example.com")
        with pytest.raises(ReviewError, match="note: at most 10000 characters"):
            review_event(session, history.events["minor"], "reviewed", "x" * 10_001, "a@example.com")
        with pytest.raises(LookupError, match="There is no event 999999"):
            review_event(session, 999999, "reviewed", "", "a@example.com")
    with session_scope(history.engine) as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_the_queue_puts_substantive_first_newest_first_and_filters_by_status(history):
    expectation_met = publish_expected(history)
    events = history.events
    with session_scope(history.engine) as session:
        order = [event.id for event, _ in review_queue(session, None, None, 100)]
        # The expectation met is newest; the injected press release came after the negation in one check.
        assert order == [expectation_met, events["injected"], events["negation"], events["minor"]]
        review_event(session, events["injected"], "not_relevant", "", "a@example.com")
        review_event(session, events["minor"], "in_review", "", "a@example.com")
    with session_scope(history.engine) as session:

        def ids(statuses, source_id=None):
            return [event.id for event, _ in review_queue(session, statuses, source_id, 100)]

        assert ids(["new", "in_review"]) == [expectation_met, events["negation"], events["minor"]]
        assert ids(["new"]) == [expectation_met, events["negation"]]
        assert ids(["not_relevant"]) == [events["injected"]]
        bis = session.get(Event, events["negation"]).source_id
        assert ids(None, bis) == [events["injected"], events["negation"]]
        assert ids(None)[:1] == [expectation_met] and len(ids(None, None)) == 4
