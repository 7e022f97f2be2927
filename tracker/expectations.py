"""Expectations: promised documents, named before they exist, met once when one appears.

Every criterion given must hold: `match_any` (one of the words or phrases, in the
title or text), `match_all` (all of them), `rin` (in the text: public-inspection
records carry none in their fields), `cfr_part` ("15 CFR 744", "part 744") and
`sources`. Only a document appearing after the baseline can meet one: a new
document, or a Federal Register document going from public inspection to
publication, which is when a promised rule formally appears.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlmodel import Session

from storage.models import Document, ExpectationMet
from storage.repository import list_expectations_met, met_expectation_names
from tracker.reading.content import Content
from tracker.settings import Config, ExpectationConfig
from tracker.shapes import document_json, iso


@lru_cache(maxsize=512)
def _phrase(words: str) -> re.Pattern:
    """A word or phrase, case-insensitive, on word boundaries, any whitespace between words."""
    parts = [re.escape(part) for part in words.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def _cfr_part(part: str) -> re.Pattern:
    number = re.escape(part.strip().split()[-1])
    return re.compile(rf"(?:\bCFR\s+(?:parts?\s+)?|\bparts?\s+){number}(?![\d])", re.IGNORECASE)


def matches(expectation: ExpectationConfig, source_name: str, content: Content) -> bool:
    if expectation.sources and source_name not in expectation.sources:
        return False
    text = content.title + "\n" + content.text()
    if expectation.match_any and not any(_phrase(word).search(text) for word in expectation.match_any):
        return False
    if expectation.match_all and not all(_phrase(word).search(text) for word in expectation.match_all):
        return False
    if expectation.rin and not _phrase(expectation.rin).search(text):
        return False
    return not (expectation.cfr_part and not _cfr_part(expectation.cfr_part).search(text))


def newly_met(
    session: Session, expectations: tuple[ExpectationConfig, ...], source_name: str, content: Content
) -> list[ExpectationConfig]:
    """Expectations this content meets that no document has met before."""
    candidates = [e for e in expectations if matches(e, source_name, content)]
    if not candidates:
        return []
    already = met_expectation_names(session)
    return [e for e in candidates if e.name not in already]


def met_status(session: Session) -> dict[str, ExpectationMet]:
    return {row.name: row for row in list_expectations_met(session)}


def expectation_rows(session: Session, config: Config) -> list[dict]:
    """Each expectation: waiting, or met (when, by which document); as `rulewatch expectations --json`."""
    met = met_status(session)
    rows = []
    for expectation in config.expectations:
        row = met.get(expectation.name)
        document = session.get(Document, row.document_id) if row else None
        rows.append(
            {
                "name": expectation.name,
                "title": expectation.title,
                "status": "met" if row else "waiting",
                "met_at": iso(row.met_at) if row else None,
                "document": document_json(document) if document else None,
                "version": row.version if row else None,
                "event_id": row.event_id if row else None,
            }
        )
    return rows
