"""The JSON API (the command line's JSON shapes), OpenAPI and its docs page, and /healthz."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from storage.db import session_scope, utcnow
from storage.models import Document, ExpectationMet, Source
from storage.repository import list_events, list_versions
from tests.support.contract import EVENT_FIELDS
from tests.support.history import GUIDANCE, NEWCOMER, NOTICE, publish_expected
from tests.tracker.web.helpers import CSP
from tracker.compare import compare_versions
from tracker.heartbeat import beat
from tracker.schemas import events_json
from tracker.shapes import iso, parse_moment, version_json

API_PATHS = {
    "/api/changes",
    "/api/documents",
    "/api/documents/{document_id}",
    "/api/documents/{document_id}/versions",
    "/api/documents/{document_id}/diff",
    "/api/sources",
    "/api/expectations",
    "/api/expectations/{name}",
    "/api/search",
    "/api/admin/sources",
    "/api/admin/subscribers",
    "/api/admin/deliveries",
    "/api/admin/subscribers/{subscriber_id}/revoke",
}


def test_changes_as_the_command_line_prints_them(shared_client, shared_history):
    answer = shared_client.get("/api/changes")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    with session_scope(shared_history.engine) as session:
        expected = events_json(session, list_events(session))
    assert answer.json() == expected
    first = answer.json()[0]
    assert set(first) >= EVENT_FIELDS


def test_changes_filters_and_bad_parameters(shared_client, shared_history):
    substantive = shared_client.get("/api/changes?severity=substantive").json()
    assert {e["severity"] for e in substantive if e["event"] == "changed"} == {"substantive"}
    assert {e["event"] for e in substantive} == {"new", "changed", "removed"}
    assert [e["event"] for e in shared_client.get("/api/changes?event=removed").json()] == ["removed"]
    assert {e["source"] for e in shared_client.get("/api/changes?source=fr").json()} == {"fr"}
    assert len(shared_client.get("/api/changes?limit=2").json()) == 2
    assert shared_client.get("/api/changes?until=2000-01-01").json() == []
    assert len(shared_client.get(f"/api/changes?since={utcnow().date().isoformat()}").json()) == 9
    for query, words in (
        ("since=soon", "since: expected an ISO 8601"),
        ("severity=x", "severity:"),
        ("event=x", "event:"),
        ("source=x", "no source named"),
    ):
        answer = shared_client.get(f"/api/changes?{query}")
        assert answer.status_code == 400 and words in answer.json()["detail"], query
    assert shared_client.get("/api/changes?limit=-1").status_code == 422


def test_documents_and_versions(shared_client, shared_history):
    documents = shared_client.get("/api/documents").json()
    assert {d["url"] for d in documents} == set(shared_history.documents)
    guidance = shared_history.documents[GUIDANCE]
    one = shared_client.get(f"/api/documents/{guidance}").json()
    assert one == next(d for d in documents if d["id"] == guidance)
    assert one["versions"] == 3 and one["source"] == "bis"

    versions = shared_client.get(f"/api/documents/{guidance}/versions").json()
    with session_scope(shared_history.engine) as session:
        expected = [version_json(v) for v in list_versions(session, guidance)]
    assert [{k: v for k, v in row.items() if k != "evidence"} for row in versions] == expected
    assert [v["version"] for v in versions] == [1, 2, 3] and versions[0]["evidence"] == {}
    for path in ("/api/documents/9999", "/api/documents/9999/versions", "/api/documents/9999/diff"):
        answer = shared_client.get(path)
        assert answer.status_code == 404 and "no document 9999" in answer.json()["detail"], path


def test_diff_as_the_command_line_prints_it(shared_client, shared_history):
    guidance = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/api/documents/{guidance}/diff")
    with session_scope(shared_history.engine) as session:
        expected = compare_versions(session, session.get(Document, guidance)).to_json()
    assert answer.json() == expected
    assert (expected["from"], expected["to"], expected["severity"]) == (2, 3, "substantive")
    assert {"op": "insert", "text": "not ", "section": "§ 744.23(a)(2)"} in expected["ops"]
    assert shared_client.get(f"/api/documents/{guidance}/diff?from=1&to=2").json()["severity"] == "cosmetic"
    first = shared_client.get(f"/api/documents/{guidance}/diff?to=1").json()
    assert first["from"] is None and {op["op"] for op in first["ops"]} == {"insert"}
    missing = shared_client.get(f"/api/documents/{guidance}/diff?to=9")
    assert missing.status_code == 404 and "has no version 9" in missing.json()["detail"]
    assert shared_client.get(f"/api/documents/{guidance}/diff?from=x").status_code == 422


def test_sources_and_expectations(client, history):
    sources = {s["name"]: s for s in client.get("/api/sources").json()}
    assert set(sources) == {"bis", "fr"}
    assert sources["fr"]["status"] == "ok" and sources["fr"]["interval"] == 60
    assert sources["bis"]["consecutive_failures"] == 3 and sources["bis"]["last_error"] == "HTTP 404"
    assert sources["bis"]["status"] == "failing" and sources["bis"]["last_failure_reason"] == "http_status"
    assert sources["fr"]["last_failure_reason"] is None
    with session_scope(history.engine) as session:
        bis = session.exec(select(Source).where(Source.name == "bis")).one()
        # Three failures in a row: the interval (60 s) doubled twice after the last check.
        assert sources["bis"]["next_check_at"] >= iso(bis.last_checked_at + timedelta(seconds=240))
    assert set(sources["fr"]) >= {"last_success_at", "last_failure_at", "last_error", "stale"}

    assert client.get("/api/expectations").json() == [
        {
            "name": "gp10",
            "title": "GP10 guidance\non Ascend chips",
            "status": "waiting",
            "met_at": None,
            "document": None,
            "version": None,
            "event_id": None,
            "reason": None,
            "thread": [],
        }
    ]
    newcomer = history.documents[NEWCOMER]
    with session_scope(history.engine) as session:
        session.add(ExpectationMet(name="gp10", met_at=utcnow(), document_id=newcomer, version=1))
    (row,) = client.get("/api/expectations").json()
    assert row["status"] == "met" and row["document"]["id"] == newcomer and row["version"] == 1


def test_one_expectation_with_its_thread(client, history):
    met_id = publish_expected(history)
    answer = client.get("/api/expectations/gp10")
    assert answer.status_code == 200
    row = answer.json()
    assert row["status"] == "met" and row["event_id"] == met_id
    assert row["reason"] == "First seen: GP10 guidance"
    # The document's `new` event, then the expectation met, each as `changes --json` has it.
    changes = {c["id"]: c for c in client.get("/api/changes").json()}
    assert [e["event"] for e in row["thread"]] == ["new", "expectation_met"]
    assert row["thread"] == [changes[e["id"]] for e in row["thread"]]
    assert client.get("/api/expectations").json()[0]["thread"] == row["thread"]
    missing = client.get("/api/expectations/nothing")
    assert missing.status_code == 404 and "configured: gp10" in missing.json()["detail"]


def test_unknown_api_paths_answer_json(shared_client, shared_history):
    answer = shared_client.get("/api/nothing-here")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}


def test_openapi_lists_the_api(shared_client, shared_history):
    answer = shared_client.get("/openapi.json")
    assert answer.status_code == 200
    paths = set(answer.json()["paths"])
    assert paths >= API_PATHS
    assert not {"/", "/admin", "/changes", "/subscription/{token}"} & paths  # pages are not API
    schemes = answer.json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"


def test_docs_page_has_its_own_policy(shared_client, shared_history):
    answer = shared_client.get("/docs")
    assert answer.status_code == 200 and "swagger-ui" in answer.text and "/openapi.json" in answer.text
    policy = answer.headers["content-security-policy"]
    assert policy != CSP
    assert "script-src 'self' 'sha256-" in policy and "https:" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]  # only the hashed inline script
    assert "frame-ancestors 'none'" in policy
    assert shared_client.get("/api/sources").headers["content-security-policy"] == CSP
    assert shared_client.get("/redoc").status_code == 404


def test_docs_page_loads_its_assets_from_this_site(client, history):
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(assets) == 3 and "://" not in page  # the script, the styles, the icon; no CDN
    assert all(url.startswith("/docs/assets/") for url in assets)
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200 and answer.content, url
    script = client.get(next(url for url in assets if url.endswith(".js")))
    assert "javascript" in script.headers["content-type"] and b"SwaggerUIBundle" in script.content
    assert client.get("/docs/assets/nothing.js").status_code == 404


def test_healthz_reports_the_scheduler(client, history):
    assert client.get("/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "scheduler": "absent",
        "last_heartbeat": None,
        "scheduler_holder": None,
    }
    now = utcnow()
    with session_scope(history.engine) as session:
        beat(session, holder="host-a:4242", now=now)
    body = client.get("/healthz").json()
    assert body["scheduler"] == "active" and body["last_heartbeat"] == iso(now)
    assert body["scheduler_holder"] == "host-a:4242"

    with session_scope(history.engine) as session:
        beat(session, holder="host-b:1", now=now - timedelta(minutes=5))
    body = client.get("/healthz").json()
    assert body["scheduler"] == "stale" and body["scheduler_holder"] == "host-b:1"
    assert client.get("/healthz").status_code == 200


def test_dates_in_filters_are_utc():
    assert parse_moment("since", "2026-11-25") == datetime(2026, 11, 25, tzinfo=UTC)
    end = parse_moment("until", "2026-11-25", end_of_day=True)
    assert end.date().isoformat() == "2026-11-25" and end.hour == 23 and end.tzinfo == UTC
    assert parse_moment("since", "2026-11-25T12:00:00+02:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_moment("since", "2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_moment("since", "2026-11-25T10:00:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_notice_minor_change_is_in_the_api(shared_client, shared_history):
    notice = shared_history.documents[NOTICE]
    (change,) = shared_client.get("/api/changes?source=fr&event=changed").json()
    assert change["document"]["id"] == notice and change["severity"] == "minor"
