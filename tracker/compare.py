"""Comparing any two stored versions of a document: what the CLI and web show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlmodel import Session

from storage.models import Document, Source, Version
from storage.repository import change_event, get_version, stored_id
from tracker.kinds import KINDS
from tracker.reading.content import Content
from tracker.redline.compute import diff_contents
from tracker.redline.model import Redline
from tracker.redline.render import redline_ops_json
from tracker.schemas import document_json
from tracker.severity import assess
from tracker.severity.model import SEVERITY_ORDER, Assessment, Severity
from tracker.stored import load_content


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
        return {
            "document": document_json(self.document),
            "from": self.old.number if self.old else None,
            "to": self.new.number,
            "severity": self.assessment.severity if self.assessment else None,
            "reasons": list(self.assessment.reasons) if self.assessment else [],
            "ops": redline_ops_json(self.redline),
        }


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
    old_content = load_content(session, old) if old else None
    new_content = load_content(session, new)
    redline = diff_contents(old_content, new_content)
    assessment = None
    if old and old_content:
        assessment = _judged_at_ingest(session, document, old, new) or _judge(
            session, document, redline, old_content, new_content
        )
    return Comparison(document, old, new, redline, assessment)


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
