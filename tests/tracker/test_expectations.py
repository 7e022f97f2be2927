"""Expectations: matching rules, once-only firing, baseline, and the alert they raise."""

import json
from textwrap import dedent

import pytest
from click.testing import CliRunner
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import Delivery, Event
from tracker.alerts.subscribers import sync_subscribers
from tracker.cli import app
from tracker.config import load_config
from tracker.expectations import matches
from tracker.ingest import Ingestor
from tracker.items import Snapshot
from tracker.reading.content import Block, Content
from tracker.settings import ExpectationConfig


def content(title, *paragraphs):
    return Content(title, tuple(Block(p) for p in paragraphs))


GP10 = ExpectationConfig("gp10", match_any=("General Prohibition 10", "GP10", "Ascend"))


@pytest.mark.parametrize(
    "expectation, source, doc, expected",
    [
        (GP10, "bis", content("Guidance on General Prohibition 10"), True),
        (GP10, "bis", content("Guidance", "Huawei ascend 910B chips"), True),
        (GP10, "bis", content("Guidance", "General   Prohibition\n10 applies"), True),
        (GP10, "bis", content("Guidance", "General Prohibition 101"), False),
        (GP10, "bis", content("Guidance", "Ascending order"), False),
        (
            ExpectationConfig("e", match_all=("policy statement", "train")),
            "bis",
            content("Policy statement", "on chips used to train models"),
            True,
        ),
        (
            ExpectationConfig("e", match_all=("policy statement", "train")),
            "bis",
            content("Policy statement", "on chips"),
            False,
        ),
        (ExpectationConfig("rule", rin="0694-AJ90"), "fr", content("Rule", "RIN: 0694-AJ90"), True),
        (ExpectationConfig("rule", rin="0694-AJ90"), "fr", content("Rule", "RIN: 0694-AK43"), False),
        (ExpectationConfig("part", cfr_part="744"), "fr", content("Rule", "CFR references: 15 CFR 744"), True),
        (ExpectationConfig("part", cfr_part="15 CFR 744"), "fr", content("Rule", "amending part 744 of the EAR"), True),
        (ExpectationConfig("part", cfr_part="744"), "fr", content("Rule", "15 CFR 7440"), False),
        (ExpectationConfig("src", match_any=("Ascend",), sources=("fr",)), "bis", content("Ascend"), False),
        (ExpectationConfig("both", match_any=("Ascend",), rin="0694-AJ90"), "fr", content("Ascend"), False),
    ],
)
def test_every_given_criterion_must_hold(expectation, source, doc, expected):
    assert matches(expectation, source, doc) is expected


@pytest.fixture
def desk(tmp_path, database_url):
    path = tmp_path / "rulewatch.toml"
    path.write_text(
        dedent(f"""
        [database]
        url = "{database_url}"

        [[sources]]
        name = "bis"
        kind = "site"
        start_urls = ["https://www.bis.gov/news-updates"]

        [[expectations]]
        name = "gp10-guidance"
        title = "GP10 guidance on Huawei Ascend chips"
        match_any = ["General Prohibition 10", "Ascend"]

        [[subscribers]]
        email = "digest@example.com"
        digest = "daily"
    """)
    )
    config = load_config(path)
    engine = open_database(config.database_url)
    with session_scope(engine) as session:
        sync_subscribers(session, config.subscribers)

    def check(*pages):
        ingestor = Ingestor(engine, config.source("bis"), progress=lambda line: None, expectations=config.expectations)
        for url, html in pages:
            ingestor.ingest_snapshot(
                Snapshot("bis", url, url, url, 200, {"Content-Type": "text/html"}, html.encode(), utcnow())
            )
        ingestor.finish()

    return path, engine, check


def page(title, text):
    return f"<html><head><title>{title}</title></head><body><main><p>{text}</p></main></body></html>"


def events(engine):
    with session_scope(engine) as session:
        return session.exec(select(Event).order_by(Event.id)).all()


def test_met_once_after_the_baseline_and_alerted_at_once(desk):
    path, engine, check = desk
    check(("https://www.bis.gov/news-updates", page("News", "Ascend chips mentioned at baseline")))
    assert [e.kind for e in events(engine)] == ["new"]  # the baseline never meets an expectation

    check(("https://www.bis.gov/news-updates", page("News", "Ascend chips mentioned, edited")))
    assert "expectation_met" not in [e.kind for e in events(engine)]  # a known document changing

    gp10 = "https://www.bis.gov/media/documents/general-prohibition-10-guidance-may-13-2025.pdf"
    check((gp10, page("Guidance", "General Prohibition 10 and Huawei Ascend 910B")))
    met = [e for e in events(engine) if e.kind == "expectation_met"]
    assert len(met) == 1 and met[0].expectations == ["gp10-guidance"]
    assert met[0].to_version == 1
    new = [e for e in events(engine) if e.kind == "new"][-1]
    assert new.expectations == ["gp10-guidance"]

    check(("https://www.bis.gov/other.pdf", page("Other", "Also about Ascend")))
    assert len([e for e in events(engine) if e.kind == "expectation_met"]) == 1  # fires once

    with session_scope(engine) as session:
        delivery = session.exec(select(Delivery).where(Delivery.event_id == met[0].id)).one()
        assert delivery.cadence == "immediate"  # whatever the digest setting

    result = CliRunner().invoke(app, ["--config", str(path), "expectations", "--json"])
    [row] = json.loads(result.output)
    assert row["status"] == "met" and row["document"]["url"] == gp10 and row["version"] == 1
    changes = json.loads(CliRunner().invoke(app, ["--config", str(path), "changes", "--json"]).output)
    [met_json] = [c for c in changes if c["event"] == "expectation_met"]
    assert met_json["expectations"] == ["gp10-guidance"] and met_json["to_version"] == 1


def test_waiting_until_met(desk):
    path, _, _check = desk
    result = CliRunner().invoke(app, ["--config", str(path), "expectations", "--json"])
    assert json.loads(result.output)[0]["status"] == "waiting"
    assert "waiting" in CliRunner().invoke(app, ["--config", str(path), "expectations"]).output
