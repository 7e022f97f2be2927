"""Expectations: promised documents, named before they exist, met once when one appears.

Every criterion given must hold: `match_any` (one of the words or phrases, in the
title or text), `match_all` (all of them), `rin` (in the text: public-inspection
records carry none in their fields, their full text does), `cfr_part` ("15 CFR 744",
"part 744") and `sources`.

Only a version that gives a signal (tracker.kinds.base.Signal) can meet one, and only
after its source's baseline: a new document, a Federal Register filing on public
inspection or its publication, an OIRA review received for the RIN (that one meets
only an expectation with that `rin`). The first signal meets it, once; later ones
join its thread.

The thread: ingest names on each event the expectations whose criteria (all but
`sources`) the version meets, and those whose thread holds a document published under a
citation the version cites (the eCFR part a rule amended: "[…; 91 FR 82417, Nov. 25,
2026]", where the rule's own RIN is rarely written). Every event of a document so named,
before and after, belongs to the thread, oldest first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlmodel import Session, col, select

from storage.db import insert_if_absent
from storage.models import Document, Event, ExpectationMet, Setting, Source
from storage.repository import (
    documents_naming,
    events_of_documents,
    get_version,
    list_expectations_met,
    met_expectation_names,
    require_row,
    stored_id,
)
from tracker.kinds import kind_of
from tracker.kinds.base import LEADS, PUBLISHED, Signal
from tracker.reading.content import Content
from tracker.schemas import events_json
from tracker.settings import Config, ExpectationConfig
from tracker.shapes import document_json, iso
from tracker.stored import load_content

GATHERED_KEY = "expectations_gathered"  # Setting: {name: its criteria} whose stored documents were gathered
# "91 FR 82417", "91  FR\n82417": a volume and a page of the Federal Register.
_FR_CITATION = re.compile(r"(?<![\w.])(\d{1,3})\s+FR\s+(\d{1,6})(?!\w)")


@lru_cache(maxsize=512)
def _phrase(words: str) -> re.Pattern:
    """A word or phrase, case-insensitive, on word boundaries, any whitespace between words."""
    parts = [re.escape(part) for part in words.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def _cfr_part(part: str) -> re.Pattern:
    number = re.escape(part.strip().split()[-1])
    return re.compile(rf"(?:\bCFR\s+(?:parts?\s+)?|\bparts?\s+){number}(?![\d])", re.IGNORECASE)


def _searched(content: Content) -> str:
    return content.title + "\n" + content.text()


def _criteria_hold(expectation: ExpectationConfig, text: str) -> bool:
    """Every criterion but `sources` holds in this text."""
    if expectation.match_any and not any(_phrase(word).search(text) for word in expectation.match_any):
        return False
    if expectation.match_all and not all(_phrase(word).search(text) for word in expectation.match_all):
        return False
    if expectation.rin and not _phrase(expectation.rin).search(text):
        return False
    return not (expectation.cfr_part and not _cfr_part(expectation.cfr_part).search(text))


def matches(expectation: ExpectationConfig, source_name: str, content: Content) -> bool:
    if expectation.sources and source_name not in expectation.sources:
        return False
    return _criteria_hold(expectation, _searched(content))


def threaded(expectations: tuple[ExpectationConfig, ...], content: Content) -> list[str]:
    """The expectations whose thread this content belongs to: their criteria hold, from whichever source."""
    if not expectations:
        return []
    text = _searched(content)
    return [e.name for e in expectations if _criteria_hold(e, text)]


def fr_citations(content: Content) -> set[str]:
    """The Federal Register citations the content makes, as "91 FR 82417"."""
    return {f"{volume} FR {page}" for volume, page in _FR_CITATION.findall(_searched(content))}


def thread_citations(session: Session, expectations: tuple[ExpectationConfig, ...]) -> dict[str, set[str]]:
    """Each expectation's thread's own citations: those its documents were published under
    (their kinds say, from their latest versions). Expectations whose threads have none are left out."""
    found: dict[str, set[str]] = {}
    citation_of: dict[int, str] = {}  # by document: documents are in several threads
    for expectation in expectations:
        for document_id in documents_naming(session, expectation.name):
            if document_id not in citation_of:
                citation_of[document_id] = _published_as(session, document_id)
            if citation_of[document_id]:
                found.setdefault(expectation.name, set()).add(citation_of[document_id])
    return found


def _published_as(session: Session, document_id: int) -> str:
    document = require_row(session, Document, document_id)
    kind = kind_of(require_row(session, Source, document.source_id).kind)
    version = get_version(session, document_id, document.latest_version) if kind.published_as else None
    return kind.citation_of(load_content(session, version)) if version is not None else ""


def threads_citing(citations: dict[str, set[str]], cited: set[str]) -> list[str]:
    """The expectations whose thread's own citations (thread_citations) are among `cited`."""
    return [name for name, own in citations.items() if not own.isdisjoint(cited)]


def gather_threads(
    session: Session, expectations: tuple[ExpectationConfig, ...], progress: Callable[[str], None] | None = None
) -> int:
    """Ingest names an event's expectations as it stores the version; an expectation new to
    the configuration (or whose criteria changed) gathers here the documents already stored
    whose latest version is in its thread, by naming it on that version's event. Once per
    expectation and criteria; returns how many documents joined a thread."""
    row = session.get(Setting, GATHERED_KEY)
    gathered = json.loads(row.value) if row else {}
    pending = tuple(e for e in expectations if gathered.get(e.name) != _criteria(e))
    if not pending:
        return 0
    documents = list(session.exec(select(Document).where(col(Document.latest_version) > 0).order_by(col(Document.id))))
    if progress and documents:
        names = ", ".join(e.name for e in pending)
        progress(f"Gathering the threads of {names} from {len(documents)} stored documents…")
    joining: dict[int, list[str]] = {}
    cites: dict[int, set[str]] = {}
    for document in documents:
        version = get_version(session, stored_id(document), document.latest_version)
        if version is None:
            continue
        content = load_content(session, version)
        text = _searched(content)
        joining[stored_id(document)] = [e.name for e in pending if _criteria_hold(e, text)]
        cites[stored_id(document)] = fr_citations(content)
        session.expunge_all()  # the version and blobs just read: one document's in memory at a time
    joined = _name_on_latest(session, documents, joining)
    citations = thread_citations(session, pending)  # with the documents just gathered
    joined += _name_on_latest(
        session, documents, {id_: threads_citing(citations, cited) for id_, cited in cites.items() if cited}
    )
    gathered.update({e.name: _criteria(e) for e in pending})
    row = session.get(Setting, GATHERED_KEY)  # again: reading let go of every row read before
    if row is not None:
        row.value = json.dumps(gathered)
    else:  # another process gathering at the same moment may write it first: either record will do
        insert_if_absent(session, Setting, ["key"], {"key": GATHERED_KEY, "value": json.dumps(gathered)})
    return joined


def _criteria(expectation: ExpectationConfig) -> str:
    return json.dumps([expectation.match_any, expectation.match_all, expectation.rin, expectation.cfr_part])


def _name_on_latest(session: Session, documents: list[Document], names: dict[int, list[str]]) -> int:
    """Name these expectations on the event of each document's latest version; how many documents gained one."""
    joined = 0
    for document in documents:
        wanted = names.get(stored_id(document))
        if not wanted:
            continue
        event = session.exec(
            select(Event)
            .where(Event.document_id == document.id, Event.to_version == document.latest_version)
            .where(col(Event.kind).in_(("new", "changed")))
            .order_by(col(Event.id))
        ).first()
        if event is None:
            continue
        added = [name for name in wanted if name not in event.expectations]
        if added:
            event.expectations = [*event.expectations, *added]
            session.add(event)
            session.flush()  # documents_naming reads them
            joined += 1
    return joined


def _same_rin(configured: str, signalled: str) -> bool:
    return configured.strip().upper() == signalled.strip().upper()


def newly_met(
    session: Session,
    expectations: tuple[ExpectationConfig, ...],
    source_name: str,
    content: Content,
    signal: Signal,
) -> list[ExpectationConfig]:
    """Expectations this signal meets that nothing has met before."""
    candidates = [
        e
        for e in expectations
        if (not e.rin or signal.formal)
        and (not signal.rin or _same_rin(e.rin, signal.rin))
        and matches(e, source_name, content)
    ]
    if not candidates:
        return []
    already = met_expectation_names(session)
    return [e for e in candidates if e.name not in already]


def met_lead(event: Event) -> str:
    """How an `expectation_met` event's headline starts: what met it (tracker.kinds.base.LEADS)."""
    return next((lead for lead in LEADS if event.summary.startswith(lead + ":")), PUBLISHED)


def met_status(session: Session) -> dict[str, ExpectationMet]:
    return {row.name: row for row in list_expectations_met(session)}


def thread_events(session: Session, name: str) -> list[Event]:
    """Every event of every document of the expectation's thread, oldest first (of the
    `expectation_met` events, its own: another expectation met by the same document is not)."""
    return [
        event
        for event in events_of_documents(session, documents_naming(session, name))
        if event.kind != "expectation_met" or name in event.expectations
    ]


def thread(session: Session, name: str) -> list[dict]:
    """The expectation's thread, each event as in `changes --json`."""
    return events_json(session, thread_events(session, name))


def expectation_rows(session: Session, config: Config, with_thread: bool = False) -> list[dict]:
    """Each expectation: waiting, or met (when, by which document); as `rulewatch expectations --json`,
    which gives each its `thread` too."""
    met = met_status(session)
    return [_row(session, e, met.get(e.name), with_thread) for e in config.expectations]


def expectation_row(session: Session, config: Config, name: str) -> dict | None:
    """One expectation, with its thread; None when none is configured by that name."""
    for expectation in config.expectations:
        if expectation.name == name:
            return _row(session, expectation, session.get(ExpectationMet, name), with_thread=True)
    return None


def _row(session: Session, expectation: ExpectationConfig, met: ExpectationMet | None, with_thread: bool) -> dict:
    document = session.get(Document, met.document_id) if met else None
    met_event = session.get(Event, met.event_id) if met and met.event_id else None
    row: dict[str, Any] = {
        "name": expectation.name,
        "title": expectation.title,
        "status": "met" if met else "waiting",
        "met_at": iso(met.met_at) if met else None,
        "document": document_json(document) if document else None,
        "version": met.version if met else None,
        "event_id": met.event_id if met else None,
        # What met it: "OIRA review received 2026-11-02 for RIN 0694-AJ90".
        "reason": met_event.reasons[0] if met_event and met_event.reasons else None,
    }
    if with_thread:
        row["thread"] = thread(session, expectation.name)
    return row
