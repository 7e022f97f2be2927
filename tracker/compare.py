"""Comparing any two stored versions of a document: what the CLI and web show."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from storage.models import Document, Source, Version
from storage.repository import get_version
from tracker.kinds import KINDS
from tracker.redline.compute import diff_contents
from tracker.redline.model import Redline
from tracker.redline.render import redline_ops_json
from tracker.schemas import document_json
from tracker.severity import assess
from tracker.severity.model import Assessment
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
    if old_content:
        assessment = assess(redline, old_content.links, new_content.links)
        source = session.get(Source, document.source_id)
        if source is not None and source.kind in KINDS:  # the kind's own reasons, as ingest gave them
            assessment = KINDS[source.kind].assessed(old_content, new_content, assessment)
    return Comparison(document, old, new, redline, assessment)


def _version(session: Session, document: Document, number: int) -> Version:
    assert document.id is not None, "only a stored document has versions"
    version = get_version(session, document.id, number)
    if version is None:
        raise ComparisonError(
            f"document {document.id} has no version {number}; it has versions 1 to {document.latest_version}"
        )
    return version
