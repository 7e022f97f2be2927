"""The whole May 2025 timeline, as `rulewatch demo` plays it, checked event by event."""

import email
import email.policy
import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from storage.db import open_database, session_scope
from storage.models import Document, Event, Version
from tracker.cli import app
from tracker.demo.run import run_demo
from tracker.demo.story import PRESS_RELEASE, TIMELINE
from tracker.schemas import iso


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
    assert by_name["replacement-rule"].key == "2026-24110"
    assert output.count("expectation met:") == 4


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
    assert "Published: Rule replacing the AI Diffusion rule (2025-00636)" in subjects
    assert f"--config {folder / 'rulewatch.toml'} serve" in output


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
