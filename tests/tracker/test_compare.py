"""Comparing stored versions: what ingest judged is what every view shows, never judged again."""

from __future__ import annotations

from storage.db import session_scope
from storage.models import Document, Event
from storage.repository import require_row
from tests.support.history import GUIDANCE, build_history
from tracker.compare import compare_versions

SENTINEL = "the reason ingest recorded for this change"


def test_consecutive_versions_show_the_assessment_stored_with_their_change(database_url, tmp_path):
    history = build_history(database_url, tmp_path)
    negation_id = history.events["negation"]
    with session_scope(history.engine) as session:
        event = require_row(session, Event, negation_id)
        event.reasons = [SENTINEL]  # were the view to judge again, it would say "negation added…"
    with session_scope(history.engine) as session:
        document = require_row(session, Document, history.documents[GUIDANCE])
        comparison = compare_versions(session, document, 2, 3)
    assert comparison.assessment is not None
    assert comparison.assessment.severity == "substantive"
    assert comparison.assessment.reasons == (SENTINEL,)


def test_versions_ingest_never_compared_are_judged_now(database_url, tmp_path):
    history = build_history(database_url, tmp_path)
    with session_scope(history.engine) as session:
        document = require_row(session, Document, history.documents[GUIDANCE])
        comparison = compare_versions(session, document, 1, 3)
    assert comparison.assessment is not None
    assert comparison.assessment.severity == "substantive"
    assert any("negation added" in reason for reason in comparison.assessment.reasons)
