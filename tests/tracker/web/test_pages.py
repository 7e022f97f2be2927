"""The review pages: dashboard, documents with evidence, raw snapshots, redlines, changes list."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from storage.blobs import get_blob, put_blob
from storage.db import session_scope, utcnow
from storage.models import Event, Source, Version
from storage.repository import find_document
from tests.support.history import EXPECTED, GUIDANCE, NOTICE, PRESS, PRESS_V2, Checks, publish_expected
from tests.tracker.web.helpers import CSP
from tracker.kinds.page.config import PageConfig
from tracker.web.app import create_app


def set_source(history, name: str, **fields) -> None:
    with session_scope(history.engine) as session:
        source = session.exec(select(Source).where(Source.name == name)).one()
        for field, value in fields.items():
            setattr(source, field, value)


# -- dashboard ------------------------------------------------------------------------------


def test_dashboard_shows_source_health(client, history):
    long_error = "connection refused by www.federalregister.gov\n" + "traceback line\n" * 3
    set_source(
        history,
        "fr",
        last_success_at=utcnow() - timedelta(seconds=60 * 3 + 5),
        last_failure_at=utcnow(),
        last_error=long_error,
        consecutive_failures=2,
    )
    set_source(history, "bis", consecutive_failures=0, last_error=None, last_success_at=utcnow())
    answer = client.get("/")
    assert answer.status_code == 200
    text = answer.text
    bis_row = text[text.index("<td>bis") : text.index("<td>fr")]
    assert 'class="status-ok">ok<' in bis_row
    fr_row = text[text.index("<td>fr") : text.index("</table>")]
    assert 'class="status-stale">stale<' in fr_row  # no success for 3 intervals of 60 s
    assert "connection refused by www.federalregister.gov" in fr_row
    assert "traceback line" not in fr_row  # the first line only; the admin page has the rest
    assert "<td>2</td>" in fr_row


def bis_row(client) -> str:
    text = client.get("/").text
    return text[text.index("<td>bis") : text.index("<td>fr")]


def test_dashboard_failing_and_unchecked_sources(client, history):
    # "failing" is what admins are mailed about (tracker.health.is_failing); before that, "retrying".
    http_503 = {"last_error": "HTTP 503", "last_failure_reason": "http_status", "last_success_at": utcnow()}
    set_source(history, "bis", consecutive_failures=1, **http_503)
    assert 'class="status-retrying">retrying<' in bis_row(client) and "HTTP 503" in bis_row(client)
    set_source(history, "bis", consecutive_failures=3, **http_503)
    assert 'class="status-failing">failing<' in bis_row(client)
    set_source(
        history,
        "bis",
        consecutive_failures=1,
        last_error="CSS selector 'main' matched nothing",
        last_failure_reason="selector_gone",
    )
    assert 'class="status-failing">failing<' in bis_row(client)

    later = PageConfig(name="later", kind="page", interval=60, url="https://www.bis.gov/later")
    config = replace(history.config, sources=(*history.config.sources, later))
    text = TestClient(create_app(config, history.engine)).get("/").text
    assert 'class="status-not-checked-yet">not checked yet<' in text


def test_dashboard_expectations_waiting_then_met(client, history):
    text = client.get("/").text
    assert "GP10 guidance" in text and 'class="expectation-waiting">waiting<' in text
    publish_expected(history)
    text = client.get("/").text
    assert 'class="expectation-met">met<' in text and 'class="expectation-waiting"' not in text
    assert f'href="/documents/{history.documents[EXPECTED]}/diff?to=1">GP10 guidance</a>' in text


# -- expectations ---------------------------------------------------------------------------


def test_an_expectation_page_shows_its_thread_oldest_first(client, history):
    dashboard = client.get("/").text
    assert 'href="/expectations/gp10"' in dashboard and 'href="/expectations">Expected</a>' in dashboard
    waiting = client.get("/expectations/gp10")
    assert waiting.status_code == 200 and "Waiting: nothing has met it yet." in waiting.text
    assert "No document has met its criteria yet." in waiting.text

    met_id = publish_expected(history)
    text = client.get("/expectations/gp10").text
    assert "match_any: GP10" in text
    assert "First seen: GP10 guidance" in text  # what met it
    document = history.documents[EXPECTED]
    with session_scope(history.engine) as session:
        new_id = session.exec(select(Event.id).where(Event.document_id == document, Event.kind == "new")).one()
    assert re.findall(r'id="event-(\d+)"', text) == [str(new_id), str(met_id)]
    assert text.count(f'href="/documents/{document}/diff?to=1"') == 3  # the met notice and both events
    assert 'href="/api/expectations/gp10"' in text
    listing = client.get("/expectations").text
    assert 'href="/expectations/gp10"' in listing and "First seen: GP10 guidance" in listing

    missing = client.get("/expectations/nothing")
    assert missing.status_code == 404 and "configured: gp10" in missing.text


# -- documents ------------------------------------------------------------------------------


def test_documents_list(shared_client, shared_history):
    answer = shared_client.get("/documents")
    assert answer.status_code == 200
    for _url, document_id in shared_history.documents.items():
        assert f'href="/documents/{document_id}"' in answer.text
    assert "removed" in answer.text  # the newcomer is gone


def test_document_page_shows_versions_with_evidence(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/documents/{document_id}")
    assert answer.status_code == 200
    text = answer.text
    with session_scope(shared_history.engine) as session:
        versions = session.exec(select(Version).where(Version.document_id == document_id)).all()
    for version in versions:
        assert f'id="v{version.number}"' in text
        assert version.sha256 in text
        assert f'href="/documents/{document_id}/versions/{version.number}/raw"' in text
    assert "<details>" in text and "<summary>HTTP headers (1)</summary>" in text
    assert "<th>Content-Type</th><td>text/html; charset=utf-8</td>" in text
    assert "https://www.bis.gov/guidance/advanced-computing" in text
    # consecutive redlines, and the form that compares any two
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=2"' in text
    assert f'href="/documents/{document_id}/diff?from=2&amp;to=3"' in text
    assert f'<form class="compare" method="get" action="/documents/{document_id}/diff">' in text
    assert re.search(r'<select name="from"[ >]', text) and re.search(r'<select name="to"[ >]', text)
    assert '<option value="2" selected>' in text and '<option value="3" selected>' in text
    assert "negation added" in text  # its events


def test_document_page_shows_source_evidence_and_attachments(client, history):
    document_id = history.documents[NOTICE]
    with session_scope(history.engine) as session:
        digest = put_blob(session, b"full text of the notice")
        version = session.exec(select(Version).where(Version.document_id == document_id, Version.number == 2)).one()
        version.evidence = {
            "stage": "published",
            "format": "federal_register",
            "attachments": [
                {
                    "role": "full_text",
                    "url": "https://www.federalregister.gov/notice.txt",
                    "status": 200,
                    "content_type": "text/plain",
                    "headers": {"ETag": '"abc"'},
                    "sha256": digest,
                }
            ],
        }
    text = client.get(f"/documents/{document_id}").text
    assert "<dt>stage</dt><dd>published</dd>" in text
    assert "full_text: https://www.federalregister.gov/notice.txt" in text
    link = f"/documents/{document_id}/versions/2/attachments/0/raw"
    assert f'href="{link}"' in text and digest in text
    download = client.get(link)
    assert download.status_code == 200 and download.content == b"full text of the notice"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith('attachment; filename="')
    assert download.headers["content-disposition"].endswith('.txt"')
    assert client.get(f"/documents/{document_id}/versions/2/attachments/1/raw").status_code == 404
    assert client.get(f"/documents/{document_id}/versions/1/attachments/0/raw").status_code == 404


def test_raw_snapshot_is_a_download_never_a_page(shared_client, shared_history):
    document_id = shared_history.documents[PRESS]
    answer = shared_client.get(f"/documents/{document_id}/versions/2/raw")
    assert answer.status_code == 200
    assert answer.content == PRESS_V2  # the bytes as fetched, live script tag and all
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["x-content-type-options"] == "nosniff"
    disposition = answer.headers["content-disposition"]
    assert re.fullmatch(rf'attachment; filename="rulewatch-doc{document_id}-v2-[0-9a-f]{{12}}\.html"', disposition)
    assert "sandbox" in answer.headers["content-security-policy"]
    with session_scope(shared_history.engine) as session:
        version = session.exec(select(Version).where(Version.document_id == document_id, Version.number == 2)).one()
        assert get_blob(session, version.sha256) == answer.content


def test_document_pages_not_found(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    for path in (
        "/documents/9999",
        "/documents/9999/versions/1/raw",
        f"/documents/{document_id}/versions/9/raw",
        "/documents/abc",
        "/no/such/page",
    ):
        answer = shared_client.get(path)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"], path
        assert answer.headers["content-security-policy"] == CSP


# -- redlines -------------------------------------------------------------------------------


def test_redline_lists_changed_sections_linking_to_anchors(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    text = shared_client.get(f"/documents/{document_id}/diff").text
    assert "Changed sections:" in text
    assert '<a href="#rl-744-23-a-2">§ 744.23(a)(2)</a>' in text
    assert 'id="rl-744-23-a-2"' in text
    assert text.index("Severity: substantive") < text.index('class="rl-redline"')  # reasons at the top
    assert "negation added in § 744.23(a)(2)" in text


def test_side_by_side_view_shows_both_sides(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/documents/{document_id}/diff?from=2&to=3&view=side")
    assert answer.status_code == 200
    text = answer.text
    assert '<table class="rl-side">' in text and 'class="rl-redline"' not in text
    row = re.search(r'<tr class="para changed" id="rl-744-23-a-2">(.*?)</tr>', text).group(1)
    old, new = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert "Exporters shall obtain" in old and "<ins" not in old
    assert 'Exporters shall <ins class="rl-ins">not </ins>obtain' in new and "<del" not in new
    assert '<a href="#rl-744-23-a-2">' in text
    # unchanged paragraphs on both sides
    assert text.count("Items classified under ECCN 3A090") == 2

    press = shared_history.documents[PRESS]
    text = shared_client.get(f"/documents/{press}/diff?view=side").text
    assert '<tr class="para title">' in text
    assert '<td class="old"><span class="rl-label">Title:</span> Press release</td>' in text

    notice = shared_history.documents[NOTICE]
    text = shared_client.get(f"/documents/{notice}/diff?view=side").text
    assert '<del class="rl-del">recieve</del>' in text and '<ins class="rl-ins">receive</ins>' in text


def test_side_by_side_inserted_and_deleted_paragraphs(shared_client, shared_history):
    notice = shared_history.documents[NOTICE]
    text = shared_client.get(f"/documents/{notice}/diff?to=1&view=side").text  # compared with nothing
    assert '<td class="old empty"></td>' in text
    assert '<ins class="rl-ins">Second paragraph stays.</ins>' in text
    text = shared_client.get(f"/documents/{notice}/diff?from=1&to=1&view=side").text
    assert "<ins" not in text and "<del" not in text


def test_view_toggles_are_links_that_keep_the_versions(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    text = shared_client.get(f"/documents/{document_id}/diff?from=1&to=3").text
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=3&amp;view=side"' in text
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=3&amp;only=substantive"' in text
    assert f'href="/documents/{document_id}/diff/export?from=1&amp;to=3"' in text
    text = shared_client.get(f"/documents/{document_id}/diff?from=1&to=3&view=side&only=substantive").text
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=3&amp;only=substantive"' in text  # inline
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=3&amp;view=side"' in text  # show everything
    assert "<form" not in text.split("<main>")[1].split("Changed sections")[0]  # no script, no form needed


def test_only_substantive_keeps_the_substantive_paragraphs(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    full = shared_client.get(f"/documents/{document_id}/diff?from=1&to=3").text
    assert "Last updated May " in full and "Items classified under ECCN" in full
    only = shared_client.get(f"/documents/{document_id}/diff?from=1&to=3&only=substantive").text
    assert '<ins class="rl-ins">not </ins>' in only  # the negation stays
    assert "Last updated May" not in only.split('class="rl-redline"')[1]  # the volatile date folds away
    assert "Items classified under ECCN" not in only  # and so does unchanged text
    assert '<div class="para skip"' in only
    side = shared_client.get(f"/documents/{document_id}/diff?from=1&to=3&only=substantive&view=side").text
    assert '<ins class="rl-ins">not </ins>' in side and "Items classified under ECCN" not in side
    assert re.search(r'<tr class="para skip"><td colspan="2">… \d+ unchanged paragraphs?</td></tr>', side)


def test_only_substantive_with_nothing_substantive(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    text = shared_client.get(f"/documents/{document_id}/diff?from=1&to=2&only=substantive").text
    assert "Severity: cosmetic" in text
    assert "No paragraph changed substantively" in text and 'class="rl-redline"' not in text
    notice = shared_history.documents[NOTICE]  # a spelling fix is minor: folded away too
    text = shared_client.get(f"/documents/{notice}/diff?only=substantive").text
    assert "No paragraph changed substantively" in text and "recieve" not in text.split("Severity")[1].split("</ul>")[1]


def test_redline_bad_parameters(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/documents/{document_id}/diff?view=sideways")
    assert answer.status_code == 400 and "view: expected inline or side" in answer.text
    answer = shared_client.get(f"/documents/{document_id}/diff?only=everything")
    assert answer.status_code == 400 and "only:" in answer.text
    answer = shared_client.get(f"/documents/{document_id}/diff?from=1&to=7")
    assert answer.status_code == 404 and "has no version 7" in answer.text


def test_export_is_a_standalone_attachment(shared_client, shared_history):
    document_id = shared_history.documents[GUIDANCE]
    answer = shared_client.get(f"/documents/{document_id}/diff/export?from=2&to=3")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-disposition"] == f'attachment; filename="redline-{document_id}-v2-v3.html"'
    assert answer.text.startswith("<!DOCTYPE html>") and "<style>" in answer.text
    assert '<link rel="stylesheet"' not in answer.text  # standalone: no link back to this site's files
    assert '<ins class="rl-ins">not </ins>' in answer.text and "Severity: substantive" in answer.text

    default = shared_client.get(f"/documents/{document_id}/diff/export")
    assert default.headers["content-disposition"] == f'attachment; filename="redline-{document_id}-v2-v3.html"'
    first = shared_client.get(f"/documents/{document_id}/diff/export?to=1")
    assert first.headers["content-disposition"] == f'attachment; filename="redline-{document_id}-v1.html"'
    for path in (
        "/documents/9999/diff/export",
        f"/documents/{document_id}/diff/export?to=9",
        f"/documents/{document_id}/diff/export?from=x",
    ):
        assert shared_client.get(path).status_code == 404, path


# -- changes ------------------------------------------------------------------------------


def test_changes_lists_every_event_with_links_to_redlines(shared_client, shared_history):
    answer = shared_client.get("/changes")
    assert answer.status_code == 200
    text = answer.text
    assert '<form class="filters" method="get" action="/changes">' in text
    guidance = shared_history.documents[GUIDANCE]
    assert f'href="/documents/{guidance}/diff?from=2&amp;to=3"' in text
    assert f'href="/documents/{guidance}/diff?from=1&amp;to=2"' in text
    assert text.count("<tr>") == 1 + 9  # header and every event of the shared_history


def test_changes_filters(shared_client, shared_history):
    guidance, notice = shared_history.documents[GUIDANCE], shared_history.documents[NOTICE]
    text = shared_client.get("/changes?severity=substantive").text
    assert f"/documents/{guidance}/diff?from=2&amp;to=3" in text
    assert f"/documents/{guidance}/diff?from=1&amp;to=2" not in text  # cosmetic
    assert f"/documents/{notice}/diff?from=1&amp;to=2" not in text  # minor
    assert "removed" in text  # other events stay
    assert '<option value="substantive" selected>' in text

    text = shared_client.get("/changes?severity=minor&source=fr&event=changed").text
    assert text.count("<tr>") == 2 and "recieve" in text

    text = shared_client.get("/changes?event=removed").text
    assert text.count("<tr>") == 2 and "gone (HTTP 404)" in text

    today = utcnow().date().isoformat()
    assert shared_client.get(f"/changes?since={today}&until={today}").text.count("<tr>") == 10
    assert shared_client.get("/changes?until=2000-01-01").text.count("<tr>") == 0
    assert "No events match" in shared_client.get("/changes?until=2000-01-01").text
    assert shared_client.get("/changes?since=2999-01-01T00:00:00Z").text.count("<tr>") == 0
    assert shared_client.get("/changes?since=").status_code == 200  # empty means no filter


def test_changes_bad_parameters_are_a_400_page(shared_client, shared_history):
    cases = {
        "since=yesterday": "since: expected an ISO 8601 date or time",
        "until=2026-13-45": "until: expected an ISO 8601 date or time",
        "severity=huge": "severity: expected one of cosmetic, minor, substantive",
        "event=exploded": "event: expected one of new, changed, removed, expectation_met",
        "source=nope": "no source named &#39;nope&#39;",
        "since=2026-02-01&until=2026-01-01": "since: must not be later than until",
    }
    for query, words in cases.items():
        answer = shared_client.get(f"/changes?{query}")
        assert answer.status_code == 400, query
        assert "text/html" in answer.headers["content-type"]
        assert words in answer.text, (query, answer.text)


def test_a_long_redline_page_collapses_unchanged_paragraphs_and_expands_on_request(history, client):
    paragraphs = [f"<p>({k}) Paragraph number {k} of a long regulation.</p>" for k in range(80)]
    url = "https://www.bis.gov/long-rule"
    before = f"<html><body><main>{''.join(paragraphs)}</main></body></html>".encode()
    paragraphs[40] = "<p>(40) Paragraph number 40 of a long, revised regulation.</p>"
    after = f"<html><body><main>{''.join(paragraphs)}</main></body></html>".encode()
    Checks(history).run("bis", (url, before))
    Checks(history).run("bis", (url, after))
    with session_scope(history.engine) as session:
        document_id = find_document(session, url).id

    collapsed = client.get(f"/documents/{document_id}/diff")
    assert collapsed.status_code == 200
    assert "unchanged paragraphs away from the changes are collapsed" in collapsed.text
    assert "… 38 unchanged paragraphs" in collapsed.text and "(10) Paragraph number 10" not in collapsed.text
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=2&amp;context=all"' in collapsed.text

    whole = client.get(f"/documents/{document_id}/diff?from=1&to=2&context=all")
    assert "(10) Paragraph number 10" in whole.text and "unchanged paragraphs away" not in whole.text
    assert client.get(f"/documents/{document_id}/diff?context=3").status_code == 400
