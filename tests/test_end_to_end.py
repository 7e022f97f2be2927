"""The issue's acceptance story, through the real CLI, on SQLite and PostgreSQL.

A page on a loopback server is checked, changed only cosmetically, checked, then
changed from "shall" to "shall not", checked, and checked once more unchanged.
"""

import json

import feedparser
import pytest
from click.testing import CliRunner

from tests.conftest import FILES
from tests.support.contract import EVENT_FIELDS
from tracker.cli import app

PAGES = FILES / "pages"


def cli(config, *args):
    result = CliRunner().invoke(app, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def story(server, write_config):
    server.set("/guidance", (PAGES / "guidance_v1.html").read_bytes())
    config = write_config(
        f"""
        [[sources]]
        name = "bis-guidance"
        kind = "page"
        url = "{server.url("/guidance")}"
        selector = "main"
        """
    )
    return server, config


def test_cosmetic_then_negation(story):
    server, config = story
    summary = cli(config, "check")
    assert "bis-guidance: ok" in summary and "1 new" in summary

    server.set("/guidance", (PAGES / "guidance_v2_cosmetic.html").read_bytes())
    cli(config, "check")
    server.set("/guidance", (PAGES / "guidance_v3_negation.html").read_bytes())
    cli(config, "check")
    cli(config, "check")  # nothing changed: adds nothing

    events = json.loads(cli(config, "changes", "--json"))
    # Newest first: the negation, the cosmetic edit, the baseline; the unchanged check adds nothing.
    assert [(e["event"], e["severity"], e["from_version"], e["to_version"]) for e in events] == [
        ("changed", "substantive", 2, 3),
        ("changed", "cosmetic", 1, 2),
        ("new", None, None, 1),
    ]

    substantive = events[0]
    assert substantive["event"] == "changed" and substantive["severity"] == "substantive"
    assert any("negation added" in reason and "744.23(a)(2)" in reason for reason in substantive["reasons"])
    assert substantive["baseline"] is False
    assert substantive["document"]["url"] == server.url("/guidance")
    new = events[-1]
    assert new["event"] == "new" and new["baseline"] is True and new["from_version"] is None
    assert set(substantive) >= EVENT_FIELDS
    assert json.loads(cli(config, "changes", "--json", "--severity", "minor")) == [
        e for e in events if e["severity"] != "cosmetic"
    ]

    doc = str(substantive["document"]["id"])
    history = json.loads(cli(config, "history", doc, "--json"))
    assert [v["version"] for v in history] == list(range(1, len(history) + 1))
    assert all(v["status"] == 200 and len(v["sha256"]) == 64 and v["url"] for v in history)

    text = cli(config, "diff", doc, "--format", "text")
    assert "shall {+not +}obtain" in text and "negation added" in text
    html = cli(config, "diff", doc, "--format", "html")
    assert 'shall <ins class="rl-ins">not </ins>obtain' in html
    data = json.loads(cli(config, "diff", doc, "--format", "json"))
    assert data["to"] == history[-1]["version"] and data["from"] == history[-2]["version"]
    assert data["severity"] == "substantive"
    inserted = [op for op in data["ops"] if op["op"] == "insert"]
    assert [op["text"].strip() for op in inserted] == ["not"]
    assert inserted[0]["section"] == "§ 744.23(a)(2)"

    first = json.loads(cli(config, "diff", doc, "--to", "1", "--format", "json"))
    assert first["from"] is None and {op["op"] for op in first["ops"]} <= {"insert", "equal"}

    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(cli(config, "feed", "--format", fmt, "--source", "bis-guidance"))
        assert not parsed.bozo
        assert [entry.title for entry in parsed.entries] == [
            "Substantive change: Guidance on Advanced Computing Integrated Circuits | Bureau of Industry and Security"
        ]


def test_documents_lists_what_was_found(story):
    _, config = story
    cli(config, "check")
    documents = json.loads(cli(config, "documents", "--json"))
    assert len(documents) == 1
    assert documents[0]["title"].startswith("Guidance on Advanced Computing")
    assert documents[0]["versions"] == 1


def test_check_sends_the_alerts_it_finds(server, write_config):
    """`rulewatch check` fetches, stores, classifies and mails, through a real SMTP server."""
    from tests.support.smtp import SmtpSink

    smtp = SmtpSink().start()
    try:
        server.set("/guidance", (PAGES / "guidance_v1.html").read_bytes())
        config = write_config(
            f"""
            [mail]
            smtp_host = "127.0.0.1"
            smtp_port = {smtp.port}

            [[sources]]
            name = "bis-guidance"
            kind = "page"
            url = "{server.url("/guidance")}"
            selector = "main"

            [[subscribers]]
            email = "legal@example.com"

            [[subscribers]]
            email = "compliance@example.com"
            """
        )
        assert "mail: 0 sent" in cli(config, "check")  # the baseline is not alerted
        server.set("/guidance", (PAGES / "guidance_v2_cosmetic.html").read_bytes())
        assert "mail: 0 sent" in cli(config, "check")
        server.set("/guidance", (PAGES / "guidance_v3_negation.html").read_bytes())
        assert "mail: 2 sent" in cli(config, "check")
        assert "mail: 0 sent" in cli(config, "check")
        assert sorted(m["To"] for m in smtp.messages) == ["compliance@example.com", "legal@example.com"]
    finally:
        smtp.stop()
