"""The `reginfo` spider against a loopback reginfo.gov: one document per RIN, end to end.

Each check runs the real crawl (a child process with Scrapy); the database is inspected
afterwards. The agenda is the genuine Fall 2025 report; the review reports are ours.
"""

from datetime import date

import pytest

from storage.db import open_database
from tests.conftest import FILES, sqlite_only
from tests.support.crawls import run_check
from tests.support.stored import stored_state
from tracker.config import load_config
from tracker.kinds.reginfo.spider import editions

AGENDA = (FILES / "genuine" / "reginfo" / "reginfo-rin-data-202510.xml").read_bytes()
UNDER_REVIEW = (FILES / "reginfo" / "eo_rules_under_review.xml").read_bytes()
COMPLETED = (FILES / "reginfo" / "eo_rule_completed_ytd.xml").read_bytes()
NO_REVIEWS = b"<?xml version='1.0'?><OIRA_DATA></OIRA_DATA>"
REPORT = "/public/do/XMLViewFileAction?f={}"
XML = "application/xml"
# The spider tries the newest editions first; the agenda is served as the oldest it tries,
# so every check also walks past editions not out yet (404).
NEWEST, _, EDITION = editions(date.today())


@pytest.fixture
def reginfo(server, write_config):
    def make(keys='rins = ["0694-AJ90"]\nagencies = ["0503"]'):
        config = load_config(
            write_config(
                f"""
                [[sources]]
                name = "reginfo"
                kind = "reginfo"
                base_url = "{server.base_url}"
                {keys}
                """
            )
        )
        return config, open_database(config.database_url)

    return make


def serve(server, under_review=UNDER_REVIEW, completed=COMPLETED, agenda=AGENDA, **agenda_options):
    server.set(REPORT.format("EO_RULES_UNDER_REVIEW.xml"), under_review, content_type=XML)
    server.set(REPORT.format("EO_RULE_COMPLETED_YTD.xml"), completed, content_type=XML)
    agenda_options.setdefault("content_type", XML)
    server.set(REPORT.format(f"REGINFO_RIN_DATA_{EDITION}.xml"), agenda, **agenda_options)


def check(config, engine):
    [result] = run_check(config, engine, ["reginfo"])
    return result


def test_each_rin_is_a_document_and_a_stage_change_or_a_concluded_review_is_substantive(server, reginfo):
    serve(server, etag='"agenda-1"')
    config, engine = reginfo()

    first = check(config, engine)
    assert first.status == "ok" and first.new_versions == 3 and first.events == {"new": 3}
    _, documents, versions, _ = stored_state(engine)
    assert [d.key for d in documents] == ["RIN 0503-AA80", "RIN 0503-AA90", "RIN 0694-AJ90"]
    faith = documents[1]
    assert faith.url == server.url(f"/public/do/eAgendaViewRule?pubId={EDITION}&RIN=0503-AA90")
    assert faith.title.startswith("Equal Participation of Faith-Based Organizations")
    assert documents[2].title.startswith("Export Administration Regulations: Rescission")  # under review only
    [version] = [v for v in versions if v.document_id == faith.id]
    assert version.final_url == server.url(REPORT.format(f"REGINFO_RIN_DATA_{EDITION}.xml"))
    assert {k.lower(): v for k, v in version.headers.items()}["etag"] == '"agenda-1"'
    evidence = version.evidence
    assert evidence["format"] == "reginfo" and evidence["edition"] == EDITION and evidence["agenda_entry"]
    assert evidence["reviews_received"] == ["2026-11-20"]
    assert len(server.hits_for(REPORT.format(f"REGINFO_RIN_DATA_{NEWEST}.xml"))) == 1  # not out: 404, passed

    # The same answers: the agenda is asked for with its validators; a followed RIN has a
    # review, so it is asked for again in full, and nothing new is stored.
    second = check(config, engine)
    assert second.status == "ok" and second.new_versions == 0 and second.events == {}
    agenda_hits = server.hits_for(REPORT.format(f"REGINFO_RIN_DATA_{EDITION}.xml"))
    assert agenda_hits[1].headers["If-None-Match"] == '"agenda-1"' and "If-None-Match" not in agenda_hits[2].headers

    moved = AGENDA.replace(
        b"<RULE_STAGE>Proposed Rule Stage</RULE_STAGE>", b"<RULE_STAGE>Final Rule Stage</RULE_STAGE>"
    )
    concluded = UNDER_REVIEW.replace(
        b"<DATE_RECEIVED>2026-11-20</DATE_RECEIVED>",
        b"<DATE_RECEIVED>2026-11-20</DATE_RECEIVED><DATE_COMPLETED>2026-12-04</DATE_COMPLETED>"
        b"<DECISION>Consistent with Change</DECISION>",
    )
    serve(server, under_review=concluded, agenda=moved, etag='"agenda-2"')
    third = check(config, engine)
    assert third.status == "ok" and third.new_versions == 1 and third.events == {"changed:substantive": 1}
    _, _, _, events = stored_state(engine)
    changed = events[-1]
    assert changed.document_id == faith.id and (changed.from_version, changed.to_version) == (1, 2)
    assert changed.reasons[:2] == [
        "stage: Proposed Rule Stage → Final Rule Stage",
        "OIRA review concluded 2026-12-04: Consistent with Change (Proposed Rule, received 2026-11-20)",
    ]
    assert changed.summary == "stage: Proposed Rule Stage → Final Rule Stage"


def test_an_unchanged_agenda_answers_304_and_stores_nothing(server, reginfo):
    serve(server, under_review=NO_REVIEWS, completed=NO_REVIEWS, last_modified="Thu, 02 Jul 2026 10:00:00 GMT")
    config, engine = reginfo('agencies = ["0503"]')
    first = check(config, engine)
    assert first.status == "ok" and first.new_versions == 2

    second = check(config, engine)
    assert second.status == "ok" and second.unchanged == 2 and second.new_versions == 0 and second.events == {}
    agenda_hits = server.hits_for(REPORT.format(f"REGINFO_RIN_DATA_{EDITION}.xml"))
    assert len(agenda_hits) == 2  # the 304 stands for both RINs: no second request
    assert agenda_hits[1].headers["If-Modified-Since"] == "Thu, 02 Jul 2026 10:00:00 GMT"
    _, _, versions, _ = stored_state(engine)
    assert len(versions) == 2


@sqlite_only
def test_a_review_report_that_fails_is_a_recorded_failure_and_no_version(server, reginfo):
    serve(server)
    server.set(REPORT.format("EO_RULE_COMPLETED_YTD.xml"), b"busy", status=503, content_type="text/plain")
    config, engine = reginfo()
    result = check(config, engine)
    assert result.status == "failed" and result.new_versions == 0
    source, documents, versions, _ = stored_state(engine)
    assert documents == [] and versions == []
    assert "HTTP 503" in source.last_error and "EO_RULE_COMPLETED_YTD.xml" in source.last_error
    assert server.hits_for(REPORT.format(f"REGINFO_RIN_DATA_{EDITION}.xml")) == []  # never reached


@sqlite_only
def test_a_malformed_agenda_and_a_rin_found_nowhere_are_recorded_failures(server, reginfo):
    serve(server, agenda=AGENDA[:5000])
    config, engine = reginfo()
    result = check(config, engine)
    assert result.status == "failed"
    source, documents, _, _ = stored_state(engine)
    assert documents == [] and "malformed Unified Agenda XML" in source.last_error
    assert source.last_failure_reason == "unreadable"

    serve(server, under_review=NO_REVIEWS)
    result = check(config, engine)
    source, documents, _, _ = stored_state(engine)
    assert [d.key for d in documents] == ["RIN 0503-AA80", "RIN 0503-AA90"]
    assert source.last_error == (f"RIN 0694-AJ90 is neither in the Unified Agenda {EDITION} nor in OIRA's review lists")
    assert source.last_failure_reason == "not_listed"


@sqlite_only
def test_a_redirect_off_the_api_host_is_refused(server, other_server, reginfo):
    serve(server)
    other_server.set(REPORT.format("EO_RULES_UNDER_REVIEW.xml"), UNDER_REVIEW, content_type=XML)
    server.set(
        REPORT.format("EO_RULES_UNDER_REVIEW.xml"),
        b"",
        status=302,
        headers={"Location": other_server.url(REPORT.format("EO_RULES_UNDER_REVIEW.xml"))},
    )
    config, engine = reginfo()
    result = check(config, engine)
    assert result.status == "failed"
    source, documents, _, _ = stored_state(engine)
    assert documents == [] and other_server.hits == []
    assert other_server.base_url.removeprefix("http://") in source.last_error
