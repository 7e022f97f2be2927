"""A small event history built through the real ingest path, for feed, web and CLI tests.

Two page sources, `bis` and `fr`. Their first check is the baseline (guidance, press,
notice: versions 1). Then, in this order: a cosmetic edit of the guidance (its version 2),
a negation in the guidance (3), a press release whose text carries markup written as text
(2), a new document (newcomer), a typo fixed in the notice (2), and the newcomer gone
(three 404s, then `removed`). `History.events` names these events; `publish_expected()`
adds a document that meets the one expectation, as a later check would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from storage.db import open_database, session_scope, utcnow
from storage.models import Document, Event
from tests.conftest import FILES
from tracker.ingest import Ingestor
from tracker.items import FailureReason, FetchFailed, Snapshot
from tracker.kinds.page.config import PageConfig
from tracker.settings import Config, ExpectationConfig, WebConfig

BASE_URL = "https://rulewatch.example"
GUIDANCE = "https://www.bis.gov/guidance/advanced-computing"
PRESS = "https://www.bis.gov/press-release/widgets"
NEWCOMER = "https://www.bis.gov/press-release/newcomer"
NOTICE = "https://www.federalregister.gov/notice"
EXPECTED = "https://www.federalregister.gov/gp10-guidance"

SCRIPT = "<script>alert(1)</script>"

PRESS_V1 = b"""<html><body><main>
<h1>Press release</h1><p>Exporters may ship widgets to partners.</p>
</main></body></html>"""
# Markup written as text survives normalization as text; the live tags do not.
PRESS_V2 = b"""<html><body><main>
<h1>Press release &lt;script&gt;alert(1)&lt;/script&gt;</h1>
<p>Exporters may not ship widgets to partners. &lt;img src=x onerror=alert(1)&gt;
<img src=x onerror=alert(1)></p><script>alert(2)</script>
</main></body></html>"""
NEWCOMER_V1 = b"""<html><body><main><h1>New guidance on chips</h1>
<p>Exporters should read this guidance before any shipment.</p></main></body></html>"""
NOTICE_V1 = b"""<html><body><main><h1>Licensing notice</h1>
<p>Applicants will recieve an answer by mail.</p><p>Second paragraph stays.</p></main></body></html>"""
NOTICE_V2 = NOTICE_V1.replace(b"recieve", b"receive")
EXPECTED_V1 = b"""<html><body><main><h1>GP10 guidance</h1>
<p>Ascend chips may not be used anywhere without a license.</p></main></body></html>"""


@dataclass
class History:
    config: Config
    engine: Engine
    documents: dict[str, int] = field(default_factory=dict)  # url -> document id
    events: dict[str, int] = field(default_factory=dict)  # label -> event id


def page_file(name: str) -> bytes:
    return (FILES / "pages" / name).read_bytes()


def snapshot(source: str, url: str, body: bytes) -> Snapshot:
    return Snapshot(
        source=source,
        key=url,
        url=url,
        final_url=url,
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=body,
        fetched_at=utcnow(),
    )


def make_config(database_url: str, tmp_path: Path) -> Config:
    return Config(
        path=tmp_path / "rulewatch.toml",
        database_url=database_url,
        web=WebConfig(base_url=BASE_URL, secret_key="test-secret"),
        sources=(
            PageConfig(name="bis", kind="page", interval=60, url=GUIDANCE),
            PageConfig(name="fr", kind="page", interval=60, url=NOTICE),
        ),
        expectations=(ExpectationConfig(name="gp10", title="GP10 guidance\non Ascend chips", match_any=("GP10",)),),
    )


class Checks:
    def __init__(self, history: History):
        self.history = history

    def run(self, source: str, *items: tuple[str, bytes] | FetchFailed) -> list[Event | None]:
        """One check of a source: each item a (url, body) page or a failure."""
        config = self.history.config
        ingestor = Ingestor(
            self.history.engine, config.source(source), progress=lambda line: None, expectations=config.expectations
        )
        events = []
        for item in items:
            if isinstance(item, FetchFailed):
                events.append(ingestor.record_failure(item))
            else:
                events.append(ingestor.ingest_snapshot(snapshot(source, *item)))
        ingestor.finish()
        return events


def build_history(database_url: str, tmp_path: Path) -> History:
    config = make_config(database_url, tmp_path)
    history = History(config, open_database(database_url))
    checks = Checks(history)
    checks.run("bis", (GUIDANCE, page_file("guidance_v1.html")), (PRESS, PRESS_V1))  # baseline
    checks.run("fr", (NOTICE, NOTICE_V1))  # baseline

    (cosmetic,) = checks.run("bis", (GUIDANCE, page_file("guidance_v2_cosmetic.html")))
    negation, injected, new = checks.run(
        "bis",
        (GUIDANCE, page_file("guidance_v3_negation.html")),
        (PRESS, PRESS_V2),
        (NEWCOMER, NEWCOMER_V1),
    )
    (minor,) = checks.run("fr", (NOTICE, NOTICE_V2))
    gone = FetchFailed(
        source="bis",
        key=NEWCOMER,
        url=NEWCOMER,
        fetched_at=utcnow(),
        error="HTTP 404",
        reason=FailureReason.HTTP_STATUS,
        status=404,
        gone=True,
    )
    removed = [checks.run("bis", gone)[0] for _ in range(3)][-1]

    labels = {
        "cosmetic": cosmetic,
        "negation": negation,
        "injected": injected,
        "new": new,
        "minor": minor,
        "removed": removed,
    }
    assert cosmetic.severity == "cosmetic" and negation.severity == "substantive"
    assert injected.severity == "substantive" and minor.severity == "minor" and removed.kind == "removed"
    history.events = {label: event.id for label, event in labels.items()}
    with session_scope(history.engine) as session:
        history.documents = {d.url: d.id for d in session.exec(select(Document))}
    return history


def publish_expected(history: History) -> int:
    """A check of `fr` finds a new document naming GP10: ingest meets the expectation.

    Two events follow, the document's `new` and then `expectation_met`; the latter's id is
    returned, and the document is added to `history.documents`.
    """
    (new,) = Checks(history).run("fr", (EXPECTED, EXPECTED_V1))
    assert new.kind == "new" and new.expectations == ["gp10"]
    with session_scope(history.engine) as session:
        (event,) = session.exec(select(Event).where(Event.kind == "expectation_met")).all()
        history.documents[EXPECTED] = event.document_id
        return event.id


def fingerprint(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in key order: what a read-only test must leave as it was.
    The redline cache is left out: views fill it, and what it holds is checked on its own."""
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(table.select().order_by(*table.primary_key))]
            for table in SQLModel.metadata.sorted_tables
            if table.name != "redline_cache"
        }


@contextmanager
def unchanged(engine: Engine) -> Iterator[None]:
    """Fails when the database is not as it was on entry (a shared fixture was written to)."""
    before = fingerprint(engine)
    yield
    after = fingerprint(engine)
    changed = sorted(name for name in before if before[name] != after[name])
    assert not changed, f"a test wrote into a shared read-only history: {changed}; give it a fresh `history`"
