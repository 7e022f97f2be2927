"""An expectation with `rin` is met by the first of: an OIRA review received, a public-inspection
filing, a publication; once, with a reason naming it. Later signals join its thread.

Through the real ingest path and readers, on SQLite and PostgreSQL: the reginfo bodies are
built by the spider's own functions from saved reports, the FR ones are the demo's records.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from textwrap import dedent

import pytest
from click.testing import CliRunner
from sqlmodel import select

from storage.db import open_database, session_scope
from storage.models import Delivery, Document, Event, ExpectationMet
from tests.conftest import FILES
from tracker.alerts.subscribers import sync_subscribers
from tracker.cli import app
from tracker.config import load_config
from tracker.demo.story import FILES as DEMO_FILES
from tracker.expectations import expectation_rows, gather_threads, newly_met
from tracker.ingest import Ingestor
from tracker.items import ListingRead, Snapshot
from tracker.kinds import KINDS
from tracker.kinds.base import FILED, PUBLISHED, UNDER_REVIEW, Signal
from tracker.kinds.reginfo.spider import read_agenda, read_reviews, rin_document
from tracker.reading.content import Block, Content

RIN = "0694-AJ90"
AGENDA = (DEMO_FILES / "reginfo" / "agenda.xml").read_bytes()
UNDER_REVIEW_REPORT = (FILES / "reginfo" / "eo_rules_under_review.xml").read_bytes()  # AJ90 received 2026-12-01
FR = DEMO_FILES / "federal_register"
JSON = "application/json"
WHEN = datetime(2026, 12, 1, 12, tzinfo=UTC)

FILING_REASON = (
    "Filed for public inspection: FR Doc 2026-24110, on public inspection since 2026-11-24 08:45-05:00,"
    " scheduled for publication on 2026-11-25"
)
REVIEW_REASON = f"OIRA review received 2026-12-01 for RIN {RIN}"
PUBLICATION_REASON = "Published in the Federal Register on 2026-11-25: FR Doc 2026-24110, 91 FR 82417"


def rin_snapshot(agenda: bytes | None, reviews: bytes | None) -> Snapshot:
    """One RIN as the reginfo spider hands it on: its agenda entry and reviews, and when each was received."""
    follows = lambda rin: rin == RIN  # noqa: E731
    entry = read_agenda(agenda, follows).get(RIN) if agenda else None
    found = read_reviews(reviews, follows) if reviews else []
    url = f"https://www.reginfo.gov/public/do/eAgendaViewRule?pubId=202610&RIN={RIN}"
    extra = {
        "format": "reginfo",
        "edition": "202610",
        "agenda_entry": entry is not None,
        "reviews_received": sorted({review.findtext("DATE_RECEIVED") for review in found}),
    }
    body = rin_document(RIN, "202610", entry, found)
    return Snapshot("reginfo", f"RIN {RIN}", url, url, 200, {"Content-Type": "text/xml"}, body, WHEN, extra=extra)


def fr_snapshot(number: str, stage: str) -> Snapshot:
    """An FR document as the federal_register spider hands it on: its record and its full text."""
    if stage == "public_inspection":
        listing = json.loads((FR / "public_inspection_current.json").read_text())
        record = next(r for r in listing["results"] if r["document_number"] == number)
        text, text_type = (FR / f"{number}.pi.txt").read_bytes(), "text/plain; charset=utf-8"
    else:
        record = json.loads((FR / f"{number}.json").read_text())
        text, text_type = (FR / f"{number}.html").read_bytes(), "text/html; charset=utf-8"
    full_text = {"role": "full_text", "url": "https://www.federalregister.gov/t", "status": 200}
    full_text |= {"content_type": text_type, "headers": {"Content-Type": text_type}, "body": text}
    url = record["html_url"]
    body = json.dumps(record, sort_keys=True).encode()
    extra = {"format": "federal_register", "stage": stage, "attachments": [full_text]}
    return Snapshot("federal-register", number, url, url, 200, {"Content-Type": JSON}, body, WHEN, extra=extra)


def ecfr_snapshot(amended_on: str) -> Snapshot:
    """15 CFR part 744 as the ecfr spider hands it on: the part's XML as amended on that day."""
    body = (DEMO_FILES / "ecfr" / f"part_744_{amended_on}.xml").read_bytes()
    url = "https://www.ecfr.gov/current/title-15/part-744"
    extra = {"format": "ecfr", "amendment_date": amended_on, "issue_date": None}
    return Snapshot("ecfr", "15 CFR 744", url, url, 200, {"Content-Type": "application/xml"}, body, WHEN, extra=extra)


@pytest.fixture
def desk(tmp_path, database_url):
    path = tmp_path / "rulewatch.toml"
    path.write_text(
        dedent(f"""
        [database]
        url = "{database_url}"

        [[sources]]
        name = "reginfo"
        kind = "reginfo"
        rins = ["{RIN}"]

        [[sources]]
        name = "federal-register"
        kind = "federal_register"
        agencies = ["industry-and-security-bureau"]

        [[sources]]
        name = "ecfr"
        kind = "ecfr"
        title = 15
        parts = ["744"]

        [[expectations]]
        name = "replacement-rule"
        title = "Rule replacing the AI Diffusion rule"
        rin = "{RIN}"
        sources = ["reginfo", "federal-register"]

        [[expectations]]
        name = "in-the-fr"
        rin = "{RIN}"
        sources = ["federal-register"]

        [[expectations]]
        name = "words"
        match_all = ["Artificial Intelligence Diffusion"]

        [[expectations]]
        name = "another-rin"
        rin = "0694-AK43"

        [[subscribers]]
        email = "legal@example.com"
    """)
    )
    config = load_config(path)
    engine = open_database(config.database_url)
    with session_scope(engine) as session:
        sync_subscribers(session, config.subscribers)

    def check(source: str, *items: Snapshot | ListingRead) -> None:
        ingestor = Ingestor(engine, config.source(source), progress=lambda line: None, expectations=config.expectations)
        for item in items:
            ingestor.handle(item)
        ingestor.finish()

    yield path, config, engine, check
    engine.dispose()


def events(engine) -> list[Event]:
    with session_scope(engine) as session:
        return list(session.exec(select(Event).order_by(Event.id)))


def met(engine) -> dict[str, tuple[str, Event]]:
    """Each expectation met: the key of the document that met it, and its event."""
    with session_scope(engine) as session:
        return {
            row.name: (session.get(Document, row.document_id).key, session.get(Event, row.event_id))
            for row in session.exec(select(ExpectationMet))
        }


def test_met_at_the_review_then_filing_and_publication_only_join_the_thread(desk):
    path, config, engine, check = desk
    check("reginfo", rin_snapshot(AGENDA, None))  # the baseline: the agenda entry
    check("federal-register", fr_snapshot("2025-00636", "published"))  # the rule being replaced, at the baseline
    assert met(engine) == {}

    check("reginfo", rin_snapshot(AGENDA, UNDER_REVIEW_REPORT))
    first = met(engine)
    assert set(first) == {"replacement-rule"}  # not in-the-fr (sources), not words (a review is no document)
    key, event = first["replacement-rule"]
    assert key == f"RIN {RIN}"
    assert event.reasons == [REVIEW_REASON]
    assert event.summary == "Under OIRA review: Rule replacing the AI Diffusion rule"
    review = events(engine)[-2]
    assert review.kind == "changed" and review.reasons[0] == "OIRA review received 2026-12-01: Interim Final Rule"
    with session_scope(engine) as session:  # alerted at once, like any expectation met
        assert session.exec(select(Delivery).where(Delivery.event_id == event.id)).one().cadence == "immediate"

    check("federal-register", fr_snapshot("2026-24110", "public_inspection"))
    second = met(engine)
    assert second["replacement-rule"] == first["replacement-rule"]  # never again
    assert second["in-the-fr"][0] == "2026-24110" and second["in-the-fr"][1].reasons == [FILING_REASON]
    assert second["words"][1].reasons == [FILING_REASON]
    assert second["words"][1].summary == "Filed for public inspection: words"
    filing = events(engine)[-3]  # the filing's own event says what it is, then the two expectations it met
    assert filing.kind == "new" and filing.reasons == [FILING_REASON] and filing.summary == FILING_REASON

    check("federal-register", fr_snapshot("2026-24110", "published"))
    assert met(engine) == second  # the publication meets nothing more
    publication = events(engine)[-1]
    assert publication.kind == "changed" and publication.reasons[0] == PUBLICATION_REASON
    assert "paragraph added in Citation: 'Citation: 91 FR 82417'" in publication.reasons
    assert publication.expectations == ["replacement-rule", "in-the-fr", "words"]
    assert [e.name for e in config.expectations if e.name not in met(engine)] == ["another-rin"]

    with session_scope(engine) as session:
        rows = {row["name"]: row for row in expectation_rows(session, config, with_thread=True)}
    thread = rows["replacement-rule"]["thread"]
    assert [(e["source"], e["event"], e["document"]["key"]) for e in thread] == [
        ("reginfo", "new", f"RIN {RIN}"),  # the agenda entry
        ("federal-register", "new", "2025-00636"),  # the rule it replaces names the same RIN
        ("reginfo", "changed", f"RIN {RIN}"),  # the review received
        ("reginfo", "expectation_met", f"RIN {RIN}"),
        ("federal-register", "new", "2026-24110"),  # the filing (the other expectations it met are theirs)
        ("federal-register", "changed", "2026-24110"),  # the publication
    ]
    assert rows["replacement-rule"]["reason"] == REVIEW_REASON
    assert rows["another-rin"]["thread"] == [] and rows["another-rin"]["status"] == "waiting"
    words = [(e["event"], e["document"]["key"]) for e in rows["words"]["thread"]]
    assert ("expectation_met", "2026-24110") in words and ("expectation_met", f"RIN {RIN}") not in words

    answer = CliRunner().invoke(app, ["--config", str(path), "expectations", "--json"])
    assert answer.exit_code == 0
    assert json.loads(answer.output)[0]["thread"] == thread
    table = CliRunner().invoke(app, ["--config", str(path), "expectations"]).output
    assert REVIEW_REASON in table and FILING_REASON[:40] in table


def test_a_rin_first_seen_after_the_baseline_meets_only_when_it_carries_a_review(desk):
    _, _, engine, check = desk
    check("reginfo", ListingRead("reginfo", "https://www.reginfo.gov/", WHEN))  # a baseline that found no RIN yet
    check("reginfo", rin_snapshot(AGENDA, None))  # new after the baseline, an agenda entry only
    assert met(engine) == {}
    # In the threads of all three whose criteria its text meets, whatever their sources.
    assert [e.expectations for e in events(engine)] == [["replacement-rule", "in-the-fr", "words"]]
    check("reginfo", rin_snapshot(AGENDA, UNDER_REVIEW_REPORT))
    assert met(engine)["replacement-rule"][1].reasons == [REVIEW_REASON]


def read(snapshot: Snapshot):
    kind = KINDS["reginfo" if snapshot.source == "reginfo" else "federal_register"]
    return kind, kind.read(snapshot, None)


def test_each_kind_names_its_signal():
    kind, content = read(rin_snapshot(AGENDA, UNDER_REVIEW_REPORT))
    new = rin_snapshot(AGENDA, UNDER_REVIEW_REPORT).extra
    assert kind.signal_of(None, new, content) == Signal(UNDER_REVIEW, REVIEW_REASON, rin=RIN, formal=True)
    assert kind.signal_of({"reviews_received": ["2026-12-01"]}, new, content) is None  # the same review
    assert (
        kind.signal_of({"reviews_received": []}, {"reviews_received": []}, read(rin_snapshot(AGENDA, None))[1]) is None
    )

    filing = fr_snapshot("2026-24110", "public_inspection")
    kind, content = read(filing)
    assert kind.signal_of(None, filing.extra, content) == Signal(FILED, FILING_REASON, note=True, formal=True)
    assert kind.signal_of({"stage": "public_inspection"}, filing.extra, content) is None
    published = fr_snapshot("2026-24110", "published")
    kind, content = read(published)
    signal = Signal(PUBLISHED, PUBLICATION_REASON, note=True, formal=True)
    assert kind.signal_of(None, published.extra, content) == signal  # new, published at once
    assert kind.signal_of({"stage": "public_inspection"}, published.extra, content) == signal
    assert kind.signal_of({"stage": "published"}, published.extra, content) is None  # a later change

    page = KINDS["page"]  # a new page is not formal: naming a RIN, it joins the thread but meets nothing
    assert page.signal_of(None, {}, Content("Guidance", ())) == Signal(PUBLISHED, "First seen: Guidance")
    assert page.signal_of({}, {}, Content("Guidance", ())) is None


def test_a_new_page_naming_the_rin_meets_no_rin_expectation(desk):
    _, config, engine, _ = desk
    page = Content("BIS press release", (Block(f"The rule (RIN {RIN}) was sent to OIRA today."),))
    first_seen = KINDS["page"].signal_of(None, {}, page)
    assert first_seen is not None and not first_seen.formal
    with session_scope(engine) as session:
        # `words`-only and rin-less expectations could meet on a page; one with a `rin` waits for a formal signal.
        assert newly_met(session, config.expectations, "federal-register", page, first_seen) == []
        formal = Signal(PUBLISHED, "Published", formal=True)
        assert [e.name for e in newly_met(session, config.expectations, "federal-register", page, formal)] == [
            "replacement-rule",
            "in-the-fr",
        ]


def test_an_expectation_met_by_another_crawl_at_the_same_moment_costs_this_one_nothing(desk, monkeypatch):
    """Two crawls (a review and a filing, on PostgreSQL) may both read 'not met'; the second to
    write finds the row there and goes on: its version and its own event are stored, no second alarm."""
    import tracker.expectations

    _, _, engine, check = desk
    check("reginfo", rin_snapshot(AGENDA, None))
    check("federal-register", fr_snapshot("2025-00636", "published"))
    check("reginfo", rin_snapshot(AGENDA, UNDER_REVIEW_REPORT))  # met here
    assert set(met(engine)) == {"replacement-rule"}
    monkeypatch.setattr(tracker.expectations, "met_expectation_names", lambda session: set())  # read before it was
    check("federal-register", fr_snapshot("2026-24110", "public_inspection"))
    assert met(engine)["replacement-rule"][0] == f"RIN {RIN}"  # still the review
    filing = [e for e in events(engine) if e.document_id and e.kind == "new" and e.reasons == [FILING_REASON]]
    assert len(filing) == 1  # the filing's version and event were stored
    met_events = [e for e in events(engine) if e.kind == "expectation_met"]
    assert sorted(e.expectations[0] for e in met_events) == ["in-the-fr", "replacement-rule", "words"]


def test_the_ecfr_part_a_rule_amends_joins_its_thread_by_citation(desk):
    """eCFR text rarely names a RIN; its source note cites the rule that amended it ("91 FR 82417")."""
    _, config, engine, check = desk
    check("ecfr", ecfr_snapshot("2025-01-16"))  # cites 90 FR 4544 (2025-00636), not yet in any thread
    check("federal-register", fr_snapshot("2026-24110", "published"))
    assert events(engine)[0].expectations == []  # read before anything cited was stored
    check("ecfr", ecfr_snapshot("2026-11-25"))  # the source note adds "91 FR 82417, Nov. 25, 2026"
    amendment = events(engine)[-1]
    assert (amendment.kind, amendment.expectations) == ("changed", ["replacement-rule", "in-the-fr", "words"])
    with session_scope(engine) as session:
        rows = {row["name"]: row for row in expectation_rows(session, config, with_thread=True)}
    keys = [(e["source"], e["event"], e["document"]["key"]) for e in rows["replacement-rule"]["thread"]]
    assert ("ecfr", "changed", "15 CFR 744") in keys and ("ecfr", "new", "15 CFR 744") in keys  # the whole part
    assert rows["another-rin"]["thread"] == []


def test_a_citation_joins_only_the_threads_published_under_it(desk):
    _, _, engine, check = desk

    def versions() -> list[list[str]]:  # the expectations named on each version's event
        return [e.expectations for e in events(engine) if e.kind in ("new", "changed")]

    check("federal-register", fr_snapshot("2025-00637", "published"))  # 90 FR 4585, a briefing: "words" only
    check("ecfr", ecfr_snapshot("2025-01-16"))  # cites 90 FR 4544 among others, not 90 FR 4585
    assert versions() == [["words"], []]
    check("federal-register", fr_snapshot("2025-00636", "published"))  # 90 FR 4544, in three threads by its text
    check("ecfr", ecfr_snapshot("2026-11-25"))  # still cites 90 FR 4544: now in those three threads
    assert versions()[2:] == [["replacement-rule", "in-the-fr", "words"]] * 2


def test_an_expectation_added_later_gathers_the_documents_already_stored(desk):
    _, config, engine, _ = desk

    def check_without_expectations(source: str, item: Snapshot) -> None:  # as before they were configured
        ingestor = Ingestor(engine, config.source(source), progress=lambda line: None)
        ingestor.handle(item)
        ingestor.finish()

    check_without_expectations("reginfo", rin_snapshot(AGENDA, None))
    check_without_expectations("federal-register", fr_snapshot("2025-00637", "published"))
    check_without_expectations("federal-register", fr_snapshot("2026-24110", "published"))
    check_without_expectations("ecfr", ecfr_snapshot("2026-11-25"))
    assert all(e.expectations == [] for e in events(engine))

    lines: list[str] = []
    with session_scope(engine) as session:
        assert gather_threads(session, config.expectations, progress=lines.append) == 4
    assert lines == [
        "Gathering the threads of replacement-rule, in-the-fr, words, another-rin from 4 stored documents…"
    ]
    assert [e.expectations for e in events(engine)] == [
        ["replacement-rule", "in-the-fr", "words"],  # the RIN's agenda entry (its title names the rule too)
        ["words"],  # the briefing names the AI Diffusion rule, not the RIN
        ["replacement-rule", "in-the-fr", "words"],  # the replacement rule
        ["replacement-rule", "in-the-fr", "words"],  # the eCFR part it amended, by its citation
    ]
    with session_scope(engine) as session:  # once: nothing new to gather
        assert gather_threads(session, config.expectations, progress=lines.append) == 0
        thread = expectation_rows(session, config, with_thread=True)[0]["thread"]
    assert len(lines) == 1
    assert [e["document"]["key"] for e in thread] == [f"RIN {RIN}", "2026-24110", "15 CFR 744"]

    # Criteria changed: gathered again; what was named stays named.
    edited = replace(config, expectations=(replace(config.expectations[3], rin="", match_any=("part 744",)),))
    with session_scope(engine) as session:
        assert gather_threads(session, edited.expectations) == 2  # the rule and the part name part 744
