"""The whole May 2025 timeline, as `rulewatch demo` plays it, checked event by event."""

import email
import email.policy
import json
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import select

from storage.db import open_database, session_scope
from storage.models import Document, Event, Version
from tracker.cli import app
from tracker.config import load_config
from tracker.demo.run import run_demo
from tracker.demo.story import PRESS_RELEASE, TIMELINE
from tracker.shapes import iso
from tracker.web.app import create_app

REVIEW_STEP = 6  # "2 Nov 2026": OIRA receives the replacement rule
MET_AT_REVIEW = "OIRA review received 2026-11-02 for RIN 0694-AJ90"


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    run_demo(folder, echo=lines.append)
    engine = open_database(f"sqlite:///{folder / 'rulewatch.db'}")
    with session_scope(engine) as session:
        events = session.exec(select(Event).order_by(Event.id)).all()
        documents = {d.id: d for d in session.exec(select(Document))}
        versions = session.exec(select(Version).order_by(Version.id)).all()
    return folder, "\n".join(lines), events, documents, versions


def step_output(output: str, number: int) -> str:
    start = output.index(f"[{number}/{len(TIMELINE)}]")
    end = output.find(f"[{number + 1}/{len(TIMELINE)}]", start)
    return output[start : end if end > 0 else None]


def test_each_expectation_fires_exactly_once(played):
    _, output, events, documents, _ = played
    met = [e for e in events if e.kind == "expectation_met"]
    names = sorted(name for e in met for name in e.expectations)
    assert names == ["ai-training-policy-statement", "counter-diversion-guidance", "gp10-guidance", "replacement-rule"]
    assert not any(e.baseline for e in met)
    by_name = {e.expectations[0]: documents[e.document_id] for e in met}
    assert by_name["gp10-guidance"].url.endswith("/media/documents/general-prohibition-10-guidance-may-13-2025.pdf")
    assert by_name["replacement-rule"].key == "RIN 0694-AJ90"
    assert output.count("expectation met:") == 4


def test_the_replacement_rule_is_met_once_at_its_oira_review(played):
    _, output, events, documents, _ = played
    [met] = [e for e in events if e.kind == "expectation_met" and e.expectations == ["replacement-rule"]]
    assert met.reasons == [MET_AT_REVIEW]
    assert met.summary == "Under OIRA review: Rule replacing the AI Diffusion rule (2025-00636)"
    # It follows the review itself, the RIN document's change at that step.
    [review] = [
        e for e in events if e.kind == "changed" and e.to_version == met.to_version and e.document_id == met.document_id
    ]
    assert review.reasons[0] == "OIRA review received 2026-11-02: Interim Final Rule" and review.id < met.id
    assert f"expectation met: replacement-rule: {MET_AT_REVIEW}" in step_output(output, REVIEW_STEP)
    # The filing, the publication and the correction come later: in the thread, never met again.
    for later in range(REVIEW_STEP + 1, len(TIMELINE) + 1):
        assert "expectation met" not in step_output(output, later)
    rule = [e for e in events if documents[e.document_id].key == "2026-24110"]
    assert [e.kind for e in rule] == ["new", "changed", "changed"]
    assert all(e.expectations == ["replacement-rule"] for e in rule)


def test_the_baseline_is_recorded_not_alerted(played):
    _folder, output, events, _, _ = played
    baseline = [e for e in events if e.baseline]
    assert baseline and all(e.kind == "new" for e in baseline)
    assert "✉" not in step_output(output, 1)


def test_rerender_and_page_view_noise_and_the_outage_store_nothing(played):
    _, output, _, _, _ = played
    assert "nothing changed that Rulewatch keeps" in step_output(output, 2)
    outage = step_output(output, 5)
    assert "nothing changed that Rulewatch keeps" in outage
    assert "'Request Access' page" in outage and "Title 15 currently unavailable" in outage


def test_no_fault_ever_becomes_a_removed_event(played):
    _, _, events, _, _ = played
    assert [e for e in events if e.kind == "removed"] == []


def test_the_silent_edit_is_substantive_with_a_reason(played):
    _, _, events, documents, _ = played
    release = [e for e in events if e.kind == "changed" and "/press-release/" in documents[e.document_id].url]
    assert [e.severity for e in release] == ["substantive", "substantive"]  # guidance linked, then the edit
    edit_reasons = " ".join(release[-1].reasons)
    assert "Huawei Ascend" in edit_reasons


def test_public_inspection_then_publication_then_correction(played):
    _, _, events, documents, versions = played
    rule = next(d for d in documents.values() if d.key == "2026-24110")
    stages = [v.evidence.get("stage") for v in versions if v.document_id == rule.id]
    assert stages == ["public_inspection", "published", "published"]
    changes = [e for e in events if e.document_id == rule.id and e.kind == "changed"]
    assert all(e.severity == "substantive" for e in changes)
    assert any("Corrections: C1-2026-24110" in r for r in changes[-1].reasons)
    assert any(d.key == "C1-2026-24110" for d in documents.values())


def test_the_ear_amendment_is_anchored_to_its_paragraph(played):
    _, _, events, documents, _ = played
    [amended] = [e for e in events if e.kind == "changed" and documents[e.document_id].key == "15 CFR 744"]
    assert any("15 CFR 744.23(a)(2)(ii)" in r for r in amended.reasons)


def test_emails_were_written_once_each(played):
    folder, output, _, _, _ = played
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((folder / "mail").glob("*.eml"))
    ]
    assert len(messages) == output.count("✉") > 0
    assert len({m["Message-ID"] for m in messages}) == len(messages)
    subjects = " ".join(" ".join(str(m["Subject"]).split()) for m in messages)
    assert "Under OIRA review: Rule replacing the AI Diffusion rule (2025-00636)" in subjects
    assert "Published: Rule replacing" not in subjects  # met once, at the review
    assert f"--config {folder / 'rulewatch.toml'} serve" in output


def demo_thread(folder) -> list[dict]:
    answer = CliRunner().invoke(app, ["--config", str(folder / "rulewatch.toml"), "expectations", "--json"])
    assert answer.exit_code == 0, answer.output
    [row] = [r for r in json.loads(answer.output) if r["name"] == "replacement-rule"]
    assert row["status"] == "met" and row["reason"] == MET_AT_REVIEW
    return row["thread"]


def in_order(steps: list[tuple], wanted: list[tuple]) -> bool:
    """Each wanted (source, event, key, reason start) is found after the one before it."""
    remaining = iter(steps)
    return all(any(step[:3] == want[:3] and step[3].startswith(want[3]) for step in remaining) for want in wanted)


def test_the_thread_runs_from_the_agenda_through_the_review_to_the_publication(played):
    folder = played[0]
    thread = demo_thread(folder)
    assert [e["detected_at"] for e in thread] == sorted(e["detected_at"] for e in thread)
    steps = [(e["source"], e["event"], e["document"]["key"], (e["reasons"] or [""])[0]) for e in thread]
    rin, rule = "RIN 0694-AJ90", "2026-24110"
    wanted = [
        ("reginfo", "new", rin, ""),  # the agenda entry, at the baseline
        ("reginfo", "changed", rin, "OIRA review received 2026-11-02: Interim Final Rule"),
        ("reginfo", "expectation_met", rin, MET_AT_REVIEW),
        (
            "reginfo",
            "changed",
            rin,
            "OIRA review concluded 2026-11-20: Consistent with Change (Interim Final Rule, received 2026-11-02)",
        ),
        ("federal-register", "new", rule, "Filed for public inspection: FR Doc 2026-24110, on public inspection since"),
        ("federal-register", "changed", rule, "Published in the Federal Register on 2026-11-25: FR Doc 2026-24110"),
        ("ear", "changed", "15 CFR 744", ""),  # the eCFR part amended by it: its source note cites 91 FR 82417
        (
            "federal-register",
            "new",
            "C1-2026-24110",
            "Published in the Federal Register on 2026-12-01",
        ),  # its correction
    ]
    assert in_order(steps, wanted), steps
    assert [e["event"] for e in thread].count("expectation_met") == 1
    # The rule being replaced names the same RIN: its baseline opens the thread.
    assert ("federal-register", "new", "2025-00636") in [s[:3] for s in steps]
    # Each element is the event as `changes --json` prints it.
    changes = json.loads(
        CliRunner().invoke(app, ["--config", str(folder / "rulewatch.toml"), "changes", "--json"]).output
    )
    by_id = {c["id"]: c for c in changes}
    assert thread == [by_id[e["id"]] for e in thread]


def test_the_demo_ends_on_the_thread_page(played):
    folder, output, _, _, _ = played
    assert output.rstrip().splitlines()[-1].endswith("http://127.0.0.1:8000/expectations/replacement-rule")
    config = load_config(folder / "rulewatch.toml")
    engine = open_database(config.database_url)
    client = TestClient(create_app(config, engine))
    assert 'href="/expectations/replacement-rule"' in client.get("/").text
    page = client.get("/expectations/replacement-rule")
    assert page.status_code == 200
    assert MET_AT_REVIEW in page.text
    thread = demo_thread(folder)
    shown = [int(n) for n in re.findall(r'id="event-(\d+)"', page.text)]
    assert shown == [e["id"] for e in thread]  # the timeline, oldest first
    for event in thread:  # each links to its redline
        document, low, high = event["document"]["id"], event["from_version"], event["to_version"]
        query = f"from={low}&amp;to={high}" if low and high else f"to={high or low}"
        assert f'href="/documents/{document}/diff?{query}"' in page.text, event
    engine.dispose()


def test_search_names_the_release_and_the_versions_the_huawei_sentence_came_and_went(played):
    folder, _, _, documents, versions = played
    query = '"Huawei Ascend chips anywhere in the world"'
    result = CliRunner().invoke(app, ["--config", str(folder / "rulewatch.toml"), "search", query, "--json"])
    assert result.exit_code == 0, result.output
    [hit] = json.loads(result.output)
    release = next(d for d in documents.values() if d.url.endswith(PRESS_RELEASE))
    assert (hit["source"], hit["document"]["id"]) == ("bis", release.id)
    # In the baseline (1) and the version that linked the guidance (2); the silent edit (3) took it out.
    assert (hit["first_version"], hit["last_version"], hit["gone_in"]) == (1, 2, 3)
    [first] = [v for v in versions if v.document_id == release.id and v.number == 1]
    assert hit["first_seen"] == iso(first.fetched_at)
    assert "using Huawei Ascend chips anywhere in the world violates U.S. export controls" in hit["snippet"]
