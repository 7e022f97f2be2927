"""Comparing any two stored versions of a document: what the CLI and web show."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import cast

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from storage.models import Document, Source, Version
from storage.redline_cache import cached_redline, forget_redline, keep_redline
from storage.repository import change_event, get_version, stored_id
from tracker.kinds import KINDS
from tracker.reading.content import Content
from tracker.redline.compute import REDLINE_REVISION, diff_contents
from tracker.redline.model import Redline
from tracker.redline.render import comparison_json
from tracker.severity import assess
from tracker.severity.model import SEVERITY_ORDER, Assessment, Severity
from tracker.shapes import document_json
from tracker.stored import load_content

log = logging.getLogger(__name__)


class ComparisonError(Exception):
    """A request for versions that do not exist, phrased for the reader."""


@dataclass
class Comparison:
    document: Document
    old: Version | None
    new: Version
    redline: Redline
    assessment: Assessment | None  # None when comparing with nothing

    def to_json(self) -> dict:
        return comparison_json(
            document_json(self.document),
            self.old.number if self.old else None,
            self.new.number,
            self.assessment.severity if self.assessment else None,
            self.assessment.reasons if self.assessment else (),
            self.redline,
        )


def compare_versions(
    session: Session, document: Document, from_number: int | None = None, to_number: int | None = None
) -> Comparison:
    """Defaults: the last two versions; with one version, it against nothing."""
    if document.latest_version == 0:
        raise ComparisonError(f"document {document.id} has no stored version yet")
    to_number = document.latest_version if to_number is None else to_number
    if from_number is None:
        from_number = to_number - 1 if to_number > 1 else None
    new = _version(session, document, to_number)
    old = _version(session, document, from_number) if from_number else None
    if old is None:
        return Comparison(document, None, new, diff_contents(None, load_content(session, new)), None)
    document_id = stored_id(document)
    kept = _kept(session, document_id, old.number, new.number)
    judged = _judged_at_ingest(session, document, old, new)
    if kept is not None and judged is not None:
        return Comparison(document, old, new, kept, judged)
    old_content, new_content = load_content(session, old), load_content(session, new)
    redline = kept if kept is not None else diff_contents(old_content, new_content)
    if kept is None:
        _keep(session, document_id, old.number, new.number, redline)
    assessment = judged or _judge(session, document, redline, old_content, new_content)
    return Comparison(document, old, new, redline, assessment)


def _kept(session: Session, document_id: int, old: int, new: int) -> Redline | None:
    """The redline kept for this pair; None when there is none, or when it does not read back."""
    text = cached_redline(session, document_id, old, new, REDLINE_REVISION)
    try:
        return None if text is None else Redline.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        log.warning("redline of document %s, versions %s to %s kept unreadable: computed again", document_id, old, new)
        return None


def keep_comparison(session: Session, document_id: int, old: int, new: int, redline: Redline) -> None:
    """Ingest keeps the redline of each change in its own transaction: the alert's link opens at once."""
    keep_redline(session, document_id, old, new, REDLINE_REVISION, json.dumps(redline.to_json()))


def _keep(session: Session, document_id: int, old: int, new: int, redline: Redline) -> None:
    """A view keeps what it computed, when the database lets it: a read-only one only misses the cache."""
    try:
        with session.begin_nested():
            forget_redline(session, document_id, old, new, REDLINE_REVISION)  # one that did not read back
            keep_comparison(session, document_id, old, new, redline)
    except SQLAlchemyError as exc:
        log.info("redline of document %s, versions %s to %s not kept: %s", document_id, old, new, exc)


def _judged_at_ingest(session: Session, document: Document, old: Version, new: Version) -> Assessment | None:
    """What ingest judged and alerted for these two versions: a view never judges them again
    (the same words as the alert, and the severity rules' cost paid once)."""
    event = change_event(session, stored_id(document), old.number, new.number)
    if event is None or event.severity not in SEVERITY_ORDER:
        return None
    return Assessment(cast(Severity, event.severity), tuple(event.reasons))


def _judge(
    session: Session, document: Document, redline: Redline, old_content: Content, new_content: Content
) -> Assessment:
    """Two versions ingest never compared (not consecutive): judged now, as ingest would."""
    assessment = assess(redline, old_content.links, new_content.links)
    source = session.get(Source, document.source_id)
    if source is not None and source.kind in KINDS:  # the kind's own reasons, as ingest gave them
        assessment = KINDS[source.kind].assessed(old_content, new_content, assessment)
    return assessment


def _version(session: Session, document: Document, number: int) -> Version:
    assert document.id is not None, "only a stored document has versions"
    version = get_version(session, document.id, number)
    if version is None:
        raise ComparisonError(
            f"document {document.id} has no version {number}; it has versions 1 to {document.latest_version}"
        )
    return version
