"""The `ecfr` spider: its callbacks on saved versioner answers in process, then real crawls.

The first tests call the spider's own requests and callbacks on saved answers (genuine GPO
part XML in tests/files/genuine/ecfr, imitations in tests/files/ecfr), with no server (the
fast tier). The crawls after them run the real crawl (a child process with Scrapy) on a
loopback versioner; the database is inspected afterwards. Failures are recorded on the
source, never versions.
"""

import json

import pytest
from click.testing import CliRunner
from scrapy.http import TextResponse

from storage.db import open_database
from tests.conftest import FILES, sqlite_only
from tests.support.crawls import run_check
from tests.support.responses import answer, start_requests
from tests.support.stored import stored_state
from tracker.cli import app
from tracker.config import load_config
from tracker.items import FailureReason, FetchFailed, Snapshot
from tracker.kinds import KINDS
from tracker.kinds.ecfr.config import EcfrConfig
from tracker.kinds.ecfr.spider import EcfrSpider, VersionsError, latest_amendment, read_json

ECFR = FILES / "ecfr"
GENUINE = FILES / "genuine" / "ecfr"
VERSIONS = "/api/versioner/v1/versions/title-15.json?part={part}"
FULL = "/api/versioner/v1/full/{date}/title-15.xml?part={part}"


# --- in process: the spider's requests and callbacks on saved answers -----------------------

API = "https://www.ecfr.gov/api/versioner/v1"
JSON_HEADERS = {"Content-Type": "application/json"}
XML_HEADERS = {"Content-Type": "application/xml"}


def ecfr_spider(title: int = 15, parts=("744",), validators=None) -> EcfrSpider:
    source = EcfrConfig(
        name="ear", kind="ecfr", interval=3600, base_url="https://www.ecfr.gov", title=title, parts=parts
    )
    return EcfrSpider(source=source, validators=validators)


def saved(name: str, folder=ECFR) -> bytes:
    return (folder / name).read_bytes()


def test_each_part_starts_with_its_versions():
    requests = start_requests(ecfr_spider(parts=("734", "744")))
    assert [r.url for r in requests] == [
        f"{API}/versions/title-15.json?part=734",
        f"{API}/versions/title-15.json?part=744",
    ]
    assert [(r.meta["rulewatch_key"], r.meta["part"]) for r in requests] == [
        ("15 CFR 734", "734"),
        ("15 CFR 744", "744"),
    ]


def test_saved_versions_ask_for_the_part_as_of_its_latest_amendment_with_the_stored_validators():
    page = "https://www.ecfr.gov/current/title-15/part-744"
    spider = ecfr_spider(validators={page: {"etag": '"xml-2024"'}})
    [versions] = start_requests(spider)
    [xml] = spider.parse_versions(answer(versions, saved("versions_744_2025-01-16.json"), headers=JSON_HEADERS))
    assert xml.url == f"{API}/full/2025-01-16/title-15.xml?part=744"
    assert (xml.meta["amendment_date"], xml.meta["issue_date"]) == ("2025-01-16", "2025-01-17")
    assert xml.headers["If-None-Match"] == b'"xml-2024"'


def test_saved_part_xml_is_a_snapshot_of_the_part_page_with_its_dates():
    spider = ecfr_spider()
    request = spider.xml_request("744", "2025-01-16", "2025-01-17")
    [snapshot] = spider.parse_xml(answer(request, saved("part_744_2025-01-16.xml"), headers=XML_HEADERS))
    assert (snapshot.key, snapshot.url, snapshot.final_url) == (
        "15 CFR 744",
        "https://www.ecfr.gov/current/title-15/part-744",
        request.url,
    )
    assert snapshot.title_hint == "15 CFR Part 744"
    assert snapshot.extra == {"format": "ecfr", "amendment_date": "2025-01-16", "issue_date": "2025-01-17"}
    assert any(
        block.section.startswith("15 CFR 744.23") for block in KINDS["ecfr"].read(snapshot, spider.source).blocks
    )


def test_an_html_page_instead_of_versions_is_a_failure_saying_so():
    spider = ecfr_spider()
    [versions] = start_requests(spider)
    [failure] = spider.parse_versions(answer(versions, b"<html><body>Maintenance</body></html>"))
    assert isinstance(failure, FetchFailed) and failure.key == "15 CFR 744"
    assert failure.error.startswith("expected JSON, got an HTML page (text/html; charset=utf-8)")


@pytest.mark.parametrize(
    "name, status, words",
    [
        ("unavailable_503.json", 503, "Title 15 currently unavailable"),
        ("bad_date_400.json", 400, "Bad date: 2026-11-25"),
    ],
)
def test_an_api_error_is_a_failure_in_the_api_s_own_words(name, status, words):
    spider = ecfr_spider()
    request = spider.xml_request("744", "2026-11-25", None)
    [failure] = spider.parse_xml(answer(request, saved(name), status=status, headers=JSON_HEADERS))
    assert failure.error == f"HTTP {status} from {request.url}: {words}"


def test_genuine_part_xml_is_a_snapshot_of_the_part_page():
    spider = ecfr_spider(title=1, parts=("17",))
    request = spider.xml_request("17", "2022-12-29", "2022-12-29")
    [snapshot] = spider.parse_xml(answer(request, saved("title-1-part-17.xml", GENUINE), headers=XML_HEADERS))
    assert isinstance(snapshot, Snapshot)
    assert (snapshot.key, snapshot.url) == ("1 CFR 17", "https://www.ecfr.gov/current/title-1/part-17")


def test_genuine_part_xml_reads_with_cfr_anchors():
    spider = ecfr_spider(title=1, parts=("17",))
    request = spider.xml_request("17", "2022-12-29", "2022-12-29")
    [snapshot] = spider.parse_xml(answer(request, saved("title-1-part-17.xml", GENUINE), headers=XML_HEADERS))
    blocks = KINDS["ecfr"].read(snapshot, spider.source).blocks
    row = next(block for block in blocks if block.text == "Monday | Wednesday | Thursday")
    assert row.section == "1 CFR 17.2(c)"


# --- loopback crawls ------------------------------------------------------------------------


@pytest.fixture
def ear(server, write_config):
    def make(*parts):
        listed = ", ".join(f'"{part}"' for part in parts)
        config = load_config(
            write_config(
                f"""
                [[sources]]
                name = "ear"
                kind = "ecfr"
                base_url = "{server.base_url}"
                parts = [{listed}]
                """
            )
        )
        return config, open_database(config.database_url)

    return make


def serve_versions(server, part, name, **options):
    options.setdefault("content_type", "application/json")
    server.set(VERSIONS.format(part=part), (ECFR / name).read_bytes(), **options)


def serve_xml(server, part, date, name, **options):
    options.setdefault("content_type", "application/xml")
    server.set(FULL.format(part=part, date=date), (ECFR / name).read_bytes(), **options)


def check(config, engine):
    [result] = run_check(config, engine, ["ear"])
    return result


def test_a_new_amendment_date_is_a_substantive_change_anchored_in_the_cfr(server, ear):
    serve_versions(server, "734", "versions_734.json")
    serve_xml(server, "734", "2024-12-05", "part_734_2024-12-05.xml", etag='"734-a"')
    serve_versions(server, "744", "versions_744_2025-01-16.json")
    serve_xml(server, "744", "2025-01-16", "part_744_2025-01-16.xml", etag='"744-a"')
    config, engine = ear("734", "744")

    first = check(config, engine)
    assert first.status == "ok" and first.new_versions == 2 and first.events == {"new": 2}
    _, documents, versions, events = stored_state(engine)
    assert [d.key for d in documents] == ["15 CFR 734", "15 CFR 744"]
    part_744 = documents[1]
    assert part_744.url == server.url("/current/title-15/part-744")
    assert part_744.title == "PART 744-CONTROL POLICY: END-USER AND END-USE BASED"
    [version] = [v for v in versions if v.document_id == part_744.id]
    assert version.url == part_744.url
    assert version.final_url == server.url(FULL.format(part="744", date="2025-01-16"))
    http = version.evidence.pop("http")
    assert version.evidence == {
        "format": "ecfr",
        "amendment_date": "2025-01-16",
        "issue_date": "2025-01-17",
    }
    # The exchange the XML came from, kept for the version's WARC evidence (tracker.exports.warc).
    [exchange] = http["exchanges"]
    assert not http["composed"] and exchange["url"] == version.final_url and exchange["status"] == 200
    sent = dict(exchange["request_headers"])
    assert sent["User-Agent"] == server.hits_for(FULL.format(part="744", date="2025-01-16"))[0].headers["User-Agent"]
    assert all(e.kind == "new" and e.baseline for e in events)

    # Nothing amended: the stored XML's validators get a 304, nothing is stored.
    second = check(config, engine)
    assert second.status == "ok" and second.unchanged == 2 and second.new_versions == 0
    asked_again = server.hits_for(FULL.format(part="744", date="2025-01-16"))[1]
    assert asked_again.headers["If-None-Match"] == '"744-a"'

    serve_versions(server, "744", "versions_744_2026-11-25.json")
    serve_xml(server, "744", "2026-11-25", "part_744_2026-11-25.xml", etag='"744-b"')
    third = check(config, engine)
    assert third.status == "ok" and third.new_versions == 1 and third.events == {"changed:substantive": 1}

    output = CliRunner().invoke(app, ["--config", str(config.path), "changes", "--json"]).output
    [changed] = [c for c in json.loads(output) if c["event"] == "changed"]
    assert changed["document"]["key"] == "15 CFR 744" and changed["baseline"] is False
    assert (changed["from_version"], changed["to_version"]) == (1, 2)
    anchored = [r for r in changed["reasons"] if r.endswith("in 15 CFR 744.23(a)(2)(ii)")]
    assert "negation added in 15 CFR 744.23(a)(2)(ii)" in anchored
    assert any(r.startswith("number changed: 25 percent → 10 percent") for r in anchored)
    _, _, versions, _ = stored_state(engine)
    assert versions[-1].evidence["amendment_date"] == "2026-11-25"


@sqlite_only
def test_503_while_the_title_is_reprocessed_is_waited_out(server, ear):
    serve_versions(server, "744", "unavailable_503.json", status=503, headers={"Retry-After": "3600"})
    config, engine = ear("744")
    result = check(config, engine)
    assert result.status == "failed"
    assert "HTTP 503" in result.failures[0] and "Title 15 currently unavailable" in result.failures[0]
    source, documents, versions, events = stored_state(engine)
    assert documents == [] and versions == [] and events == []
    assert source.retry_after is not None and source.baseline_at is None

    again = check(config, engine)
    assert again.status == "skipped" and "Retry-After" in again.message
    assert len(server.hits_for(VERSIONS.format(part="744"))) == 1


@sqlite_only
def test_a_bad_date_is_a_clear_failure(server, ear):
    serve_versions(server, "744", "versions_744_2026-11-25.json")
    serve_xml(server, "744", "2026-11-25", "bad_date_400.json", status=400, content_type="application/json")
    config, engine = ear("744")
    result = check(config, engine)
    assert result.status == "failed"
    assert "HTTP 400" in result.failures[0] and "Bad date: 2026-11-25" in result.failures[0]
    assert stored_state(engine)[2] == []


@sqlite_only
def test_truncated_xml_is_a_failure_with_its_bytes_kept(server, ear):
    serve_versions(server, "744", "versions_744_2025-01-16.json")
    serve_xml(server, "744", "2025-01-16", "part_744_truncated.xml")
    config, engine = ear("744")
    result = check(config, engine)
    assert result.status == "failed"
    assert "malformed eCFR XML" in result.failures[0] and "raw bytes kept" in result.failures[0]
    source, documents, versions, events = stored_state(engine)
    assert documents == [] and versions == [] and events == []
    assert "malformed eCFR XML" in source.last_error and source.last_failure_reason == FailureReason.UNREADABLE


@sqlite_only
def test_html_or_malformed_json_instead_of_versions_is_a_failure(server, ear):
    page = "<!DOCTYPE html><html><head><title>eCFR :: Request Access</title></head><body>Request access</body></html>"
    server.set(VERSIONS.format(part="734"), page)
    server.set(VERSIONS.format(part="744"), b'{"content_versions": [{"date": ', content_type="application/json")
    config, engine = ear("734", "744")
    result = check(config, engine)
    assert result.status == "failed" and len(result.failures) == 2
    failures = " ".join(result.failures)
    assert "expected JSON, got an HTML page (text/html; charset=utf-8)" in failures
    assert "malformed JSON" in failures
    assert not any("/full/" in hit.path for hit in server.hits)
    assert stored_state(engine)[2] == []


# --- reading the versions list (no crawl) --------------------------------------------


@pytest.mark.parametrize(
    "content_type, body, reason",
    [
        ("text/html", b"<html><head><title>eCFR :: Request Access</title></head></html>", FailureReason.ACCESS_PAGE),
        ("application/json", b'{"content_versions": [', FailureReason.UNREADABLE),
    ],
)
def test_an_unreadable_versions_answer_says_why_by_its_reason(content_type, body, reason):
    response = TextResponse(url="https://www.ecfr.gov/v", headers={"Content-Type": content_type}, body=body)
    with pytest.raises(VersionsError) as raised:
        read_json(response)
    assert raised.value.reason is reason


def test_latest_amendment_ignores_entries_without_a_date():
    data = json.loads((ECFR / "versions_744_2026-11-25.json").read_text(encoding="utf-8"))
    assert latest_amendment(data) == ("2026-11-25", "2026-11-27")
    data["content_versions"] += [
        {"amendment_date": None, "issue_date": "2027-01-01"},
        {"amendment_date": "2099-99-99", "issue_date": "2099-99-99"},
        {"amendment_date": "../../etc", "issue_date": None},
        "not an entry",
    ]
    assert latest_amendment(data) == ("2026-11-25", "2026-11-27")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"message": "Title 15 currently unavailable"}, "no content_versions list"),
        ([], "no content_versions list"),
        ({"content_versions": []}, "no amendment dates"),
        ({"content_versions": [{"amendment_date": None}]}, "no amendment dates"),
    ],
)
def test_versions_that_name_no_amendment_are_an_error(data, message):
    with pytest.raises(VersionsError, match=message):
        latest_amendment(data)


@sqlite_only
def test_a_redirect_off_the_api_host_is_refused(server, other_server, ear):
    server.set(VERSIONS.format(part="744"), b"", status=302, headers={"Location": other_server.url("/page")})
    config, engine = ear("744")
    result = check(config, engine)
    assert result.status == "failed" and other_server.url("/page") in result.failures[0]
    assert other_server.hits == []
    assert stored_state(engine)[2] == []


@sqlite_only
def test_the_api_s_own_words_in_a_failure_are_escaped(server, ear):
    server.set(
        VERSIONS.format(part="744"),
        json.dumps({"error": "Bad part\x1b[2J\nFAKE: ok"}),
        status=400,
        content_type="application/json",
    )
    config, engine = ear("744")
    [failure] = check(config, engine).failures
    assert failure.endswith("Bad part\\x1b[2J\\nFAKE: ok")
    assert "Bad part\\x1b[2J\\nFAKE: ok" in stored_state(engine)[0].last_error
