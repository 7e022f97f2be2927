"""The `federal_register` spider: its callbacks on saved answers in process, then real crawls.

The first tests call the spider's own requests and callbacks on saved FR API answers,
genuine (tests/files/genuine/federal_register) and imitation, with no server (the fast
tier). The crawls after them run against a loopback copy of the FR API: the saved
responses in tests/files/federal_register carry the real host; they are served with it
replaced by the loopback server's, so every URL the spider follows (next_page_url,
body_html_url, raw_text_url) leads back to the fixtures.
"""

import json
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pytest
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse, TextResponse
from scrapy.settings import Settings
from sqlmodel import select

from spiders.base import now
from storage.db import session_scope
from storage.models import Document, Event, Source, Version
from tests.conftest import FILES, sqlite_only
from tests.support.crawls import run_check
from tests.support.responses import answer, requests_in, start_requests
from tracker.config import load_config
from tracker.items import FailureReason, FetchFailed, ListingRead, Snapshot
from tracker.kinds import KINDS
from tracker.kinds.federal_register.config import FederalRegisterConfig
from tracker.kinds.federal_register.spider import (
    MAX_PAGES,
    MIN_DELAY,
    SEARCH_FIELDS,
    FederalRegisterSpider,
    search_urls,
)
from tracker.stored import load_content

FR = FILES / "federal_register"
REAL = "https://www.federalregister.gov"
JSON = "application/json; charset=utf-8"
SEARCH = "/api/v1/documents.json"
NEXT_PAGES = "/api/v1/documents"  # next_page_url has no ".json"
CURRENT = "/api/v1/public-inspection-documents/current.json"


# --- in process: the spider's requests and callbacks on saved answers -----------------------
#
# Genuine FR API answers (tests/files/genuine/federal_register) and the imitations beside them.

GENUINE = FILES / "genuine" / "federal_register"
API = f"{REAL}/api/v1"
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def fr_spider(**options) -> FederalRegisterSpider:
    source = FederalRegisterConfig(
        name="federal-register",
        kind="federal_register",
        interval=3600,
        base_url="https://www.federalregister.gov",
        **options,
    )
    return FederalRegisterSpider(source=source)


def genuine(request, name: str, headers: dict | None = None, cls=TextResponse):
    """The saved genuine answer `name` as the response to `request`."""
    return answer(request, (GENUINE / name).read_bytes(), headers=headers or JSON_HEADERS, cls=cls)


# --- genuine documents.json (a search) ----------------------------------------------------


def search_results():
    spider = fr_spider(agencies=("energy-department",))
    request = spider.search_request(0, spider.searches[0], page=1)
    return spider, list(spider.parse_search(genuine(request, "documents-search.json")))


def test_search_answer_is_a_listing_read():
    _, results = search_results()
    assert sum(isinstance(r, ListingRead) for r in results) == 1


def test_search_answer_asks_for_each_listed_document():
    _, results = search_results()
    documents = [r.url for r in requests_in(results) if r.callback.__name__ == "parse_document"]
    assert documents == [f"{API}/documents/2024-31440.json", f"{API}/documents/2024-31439.json"]


def test_search_answer_follows_its_next_page_url_with_the_cursor():
    _, results = search_results()
    [next_page] = [r for r in requests_in(results) if r.callback.__name__ == "parse_search"]
    assert next_page.url == json.loads((GENUINE / "documents-search.json").read_bytes())["next_page_url"]
    assert "search_after_cursor=WzE3MzU2MDMyMDAwMDAsIjIwMjQtMzE0MzkiXQ" in next_page.url


# --- genuine documents/{number}.json and its full text ----------------------------------------


def document_results(number: str):
    spider = fr_spider(agencies=("executive-office-of-the-president",))
    request = spider.document_request(number)
    return spider, list(spider.parse_document(genuine(request, f"{number}.json")))


def test_document_answer_asks_for_its_full_text_at_body_html_url():
    _, [full_text] = document_results("2026-19417")
    assert full_text.url == "https://www.federalregister.gov/documents/full_text/html/2026/09/22/2026-19417.html"


def test_document_snapshot_is_filed_under_its_number_and_page():
    _, [full_text] = document_results("2026-19417")
    snapshot = full_text.meta["fr_snapshot"]
    assert (snapshot.key, snapshot.url) == (
        "2026-19417",
        "https://www.federalregister.gov/documents/2026/09/22/2026-19417/restoring-american-saltwater-angling-and-recreation",
    )


def test_document_with_its_html_full_text_is_one_readable_snapshot():
    spider, [full_text] = document_results("2026-19417")
    [snapshot] = spider.parse_full_text(
        genuine(full_text, "2026-19417.body.html", {"Content-Type": "text/html"}, cls=HtmlResponse)
    )
    assert isinstance(snapshot, Snapshot)
    assert "(d) The costs for publication of this order shall be borne by the Department of Commerce." in (
        KINDS["federal_register"].read(snapshot, spider.source).text()
    )


def test_a_1994_raw_text_answer_is_taken_as_the_full_text_not_as_the_request_access_page():
    # Served as text/plain, it is an HTML page (<title>Federal Register, Volume 59 …</title>, the text in <pre>).
    spider, [full_text] = document_results("93-32104")
    [snapshot] = spider.parse_full_text(genuine(full_text, "93-32104.raw.txt", {"Content-Type": "text/plain"}))
    assert isinstance(snapshot, Snapshot)
    assert [a["role"] for a in snapshot.extra["attachments"]] == ["full_text"]


# --- genuine public-inspection-documents/current.json ---------------------------------------


def inspection_results(**options):
    spider = fr_spider(public_inspection=True, **options)
    request = spider.tracked_request(
        f"{API}/public-inspection-documents/current.json",
        key="current",
        callback=spider.parse_public_inspection,
        conditional=False,
    )
    return list(spider.parse_public_inspection(genuine(request, "public-inspection-current.json")))


def inspected(results) -> list[Snapshot]:
    return [r.meta["fr_snapshot"] for r in requests_in(results)]


def test_public_inspection_keeps_the_records_of_the_configured_agency():
    results = inspection_results(agencies=("international-trade-administration",))
    assert [s.key for s in inspected(results)] == ["2026-19930"]


def test_public_inspection_record_is_its_own_json_with_the_listing_attached():
    [snapshot] = inspected(inspection_results(agencies=("international-trade-administration",)))
    assert json.loads(snapshot.body)["subject_2"] == "Light-Walled Rectangular Pipe and Tube from Mexico"
    assert [a["role"] for a in snapshot.extra["attachments"]] == ["listing"]


def test_public_inspection_asks_for_the_record_raw_text():
    [request] = requests_in(inspection_results(agencies=("international-trade-administration",)))
    assert request.url == "https://www.federalregister.gov/public-inspection/raw_text/202/619/930.txt"


def test_public_inspection_matches_terms_in_subjects():
    results = inspection_results(terms=("Sunshine Act",))
    assert [s.key for s in inspected(results)] == ["2026-19958"]


# --- imitation answers ------------------------------------------------------------------


def test_a_document_with_its_full_text_is_one_snapshot_with_the_text_attached():
    spider = fr_spider(agencies=("industry-and-security-bureau",))
    request = spider.document_request("2025-00636")
    [full_text] = spider.parse_document(answer(request, (FR / "2025-00636.json").read_bytes(), headers=JSON_HEADERS))
    assert full_text.url == f"{REAL}/documents/full_text/html/2025/01/15/2025-00636.html"
    [snapshot] = spider.parse_full_text(answer(full_text, (FR / "2025-00636.html").read_bytes()))
    assert (snapshot.key, snapshot.url) == (
        "2025-00636",
        f"{REAL}/documents/2025/01/15/2025-00636/framework-for-artificial-intelligence-diffusion",
    )
    assert snapshot.extra["stage"] == "published"
    assert [(a["role"], a["url"]) for a in snapshot.extra["attachments"]] == [("full_text", full_text.url)]


def test_the_request_access_page_instead_of_a_document_is_a_failure_then_a_back_off():
    spider = fr_spider(agencies=("industry-and-security-bureau",))
    request = spider.document_request("2025-00636")
    outcomes = spider.parse_document(answer(request, (FR / "request_access.html").read_bytes()))
    failure = next(outcomes)
    assert failure.key == "2025-00636" and "'Request Access' page?" in failure.error
    with pytest.raises(CloseSpider) as closed:
        next(outcomes)
    assert closed.value.reason.startswith("the Federal Register asked us to back off: ")


def test_the_request_access_page_instead_of_a_full_text_is_a_failure_not_a_version():
    spider = fr_spider(agencies=("industry-and-security-bureau",))
    request = spider.document_request("2025-00636")
    [full_text] = spider.parse_document(answer(request, (FR / "2025-00636.json").read_bytes(), headers=JSON_HEADERS))
    outcomes = spider.parse_full_text(answer(full_text, (FR / "request_access.html").read_bytes()))
    failure = next(outcomes)
    assert isinstance(failure, FetchFailed) and failure.key == "2025-00636"
    assert failure.error.startswith("full text of 2025-00636 could not be fetched: ")
    with pytest.raises(CloseSpider) as closed:
        next(outcomes)
    assert "Request Access" in closed.value.reason


def test_a_malformed_document_json_fails_alone():
    spider = fr_spider(agencies=("industry-and-security-bureau",))
    request = spider.document_request("2025-00636")
    [failure] = spider.parse_document(answer(request, (FR / "malformed.json").read_bytes(), headers=JSON_HEADERS))
    assert isinstance(failure, FetchFailed) and failure.error.startswith(f"malformed JSON from {request.url}: ")


# A terminal title, a clear screen, and far too long: a value that must come out escaped and cut.
HOSTILE = {"n": "\x1b]0;owned\x07\x1b[2J" + "x" * 500}
ODD_NUMBERS = [["2099-00001"], {"number": "2099-00001"}, None, "", True, 20.25, HOSTILE]
ODD_INSPECTION_FIELDS = [
    {"document_number": ["x"]},
    {"document_number": None},
    {"agencies": [{"slug": ["industry-and-security-bureau"]}]},
    {"agencies": 7},
    {"type": ["Rule"]},
]


@pytest.mark.parametrize("odd", ODD_NUMBERS)
def test_one_malformed_search_result_is_a_failure_and_the_others_are_asked_for(odd):
    spider = fr_spider(agencies=("industry-and-security-bureau",))
    [search] = start_requests(spider)
    page = json.loads((FR / "documents_page1.json").read_bytes())
    page["results"][1:1] = [{"document_number": odd, "title": "odd"}, "not a record"]
    results = list(spider.parse_search(answer(search, json.dumps(page).encode(), headers=JSON_HEADERS)))
    second, third = [r.error for r in results if isinstance(r, FetchFailed)]
    assert second.startswith(f"result 2 of {search.url} skipped: ") and "document_number" in second
    assert third.startswith(f"result 3 of {search.url} skipped: ") and "not an object" in third
    assert "\x1b" not in second and "\x07" not in second  # escaped
    assert len(second.split(" skipped: ")[1]) < 120  # and short, however long the value
    documents = [r.url for r in requests_in(results) if r.callback.__name__ == "parse_document"]
    assert documents == [f"{API}/documents/2026-24110.json", f"{API}/documents/2026-00789.json"]


@pytest.mark.parametrize("odd", ODD_INSPECTION_FIELDS)
def test_one_malformed_public_inspection_record_is_a_failure_and_the_others_are_read(odd):
    spider = fr_spider(public_inspection=True, agencies=("industry-and-security-bureau",), types=("rule",))
    url = f"{API}/public-inspection-documents/current.json"
    request = spider.tracked_request(url, key=url, callback=spider.parse_public_inspection, conditional=False)
    listing = json.loads((FR / "public_inspection_current.json").read_bytes())
    [record] = [r for r in listing["results"] if r["document_number"] == "2026-24110"]
    listing["results"] = [{**record, **odd}, record]
    results = list(spider.parse_public_inspection(answer(request, json.dumps(listing).encode(), headers=JSON_HEADERS)))
    [failure] = [r for r in results if isinstance(r, FetchFailed)]
    assert failure.error.startswith(f"result 1 of {url} skipped: {next(iter(odd))}"), failure.error
    assert [r.meta["fr_snapshot"].key for r in requests_in(results)] == ["2026-24110"]


# --- loopback crawls ------------------------------------------------------------------------


class FakeFederalRegister:
    """Routes for the saved FR responses on the loopback server."""

    def __init__(self, server):
        self.server = server

    def body(self, name: str) -> bytes:
        return (FR / name).read_bytes().replace(REAL.encode(), self.server.base_url.encode())

    def search(self, first: list[str], second: list[str] | None = None) -> None:
        """Page 1 holds `first`; page 2, when given, `second` (and a page 3 that must never be asked for)."""
        page1 = json.loads(self.body("documents_page1.json"))
        page2 = json.loads(self.body("documents_page2.json"))
        known = {r["document_number"]: r for r in page1["results"] + page2["results"]}
        page1["results"] = [known.get(number) or self.result(number) for number in first]
        page2["results"] = [known.get(number) or self.result(number) for number in second or []]
        if second is None:
            page1["next_page_url"] = None
        self.server.set(SEARCH, json.dumps(page1), content_type=JSON, ignore_query=True)
        self.server.set(NEXT_PAGES, json.dumps(page2), content_type=JSON, ignore_query=True)

    def result(self, number: str) -> dict:
        """A search result for a document the saved pages do not list, from its saved JSON."""
        record = json.loads(self.body(f"{number}.json"))
        return {name: record[name] for name in SEARCH_FIELDS}

    def document(self, number: str, saved: str | None = None, **options) -> None:
        """The document's JSON (from `saved`, default `<number>.json`) and its full text."""
        body = self.body(saved or f"{number}.json")
        self.server.set(f"/api/v1/documents/{number}.json", body, content_type=JSON, **options)
        self.server.set(self.full_text_path(number), self.body(f"{number}.html"))

    def full_text_path(self, number: str) -> str:
        return urlsplit(json.loads(self.body(f"{number}.json"))["body_html_url"]).path

    def public_inspection(self, numbers: list[str]) -> None:
        listing = json.loads(self.body("public_inspection_current.json"))
        listing["results"] = [r for r in listing["results"] if r["document_number"] in numbers]
        listing["count"] = len(listing["results"])
        self.server.set(CURRENT, json.dumps(listing), content_type=JSON)
        for record in listing["results"]:
            name = f"{record['document_number']}.pi.txt"
            if (FR / name).exists():
                self.server.set(
                    urlsplit(record["raw_text_url"]).path, self.body(name), content_type="text/plain; charset=utf-8"
                )


@pytest.fixture
def fr(server):
    return FakeFederalRegister(server)


def check(config, engine):
    [result] = run_check(config, engine, ["federal-register"])
    return result


def documents(engine) -> dict[str, tuple[Document, list[Version]]]:
    with session_scope(engine) as session:
        found = {}
        for document in session.exec(select(Document)).all():
            versions = session.exec(
                select(Version).where(Version.document_id == document.id).order_by(Version.number)
            ).all()
            found[document.key] = (document, versions)
        return found


def events(engine) -> list[Event]:
    with session_scope(engine) as session:
        return session.exec(select(Event).order_by(Event.id)).all()


def source_row(engine) -> Source:
    with session_scope(engine) as session:
        return session.exec(select(Source)).one()


def text_of(engine, version: Version) -> str:
    with session_scope(engine) as session:
        return load_content(session, version).text()


def query(hit) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(hit.path).query)


# --- searches and documents -------------------------------------------------


def test_search_pages_give_one_versioned_document_per_number(server, fr, fr_source):
    fr.search(["2026-24110", "2026-00789"], ["2025-00637", "2025-00636"])
    for number in ("2026-24110", "2026-00789", "2025-00637", "2025-00636"):
        fr.document(number)
    config, engine = fr_source()
    result = check(config, engine)
    assert result.status == "ok" and result.new_versions == 4 and result.failures == []

    [search] = server.hits_for(SEARCH, ignore_query=True)
    asked = query(search)
    for pair in [
        ("conditions[agencies][]", "industry-and-security-bureau"),
        ("order", "newest"),
        ("per_page", "20"),
        ("fields[]", "document_number"),
        ("fields[]", "html_url"),
    ]:
        assert pair in asked
    pages = [dict(query(hit)).get("page") for hit in server.hits_for(NEXT_PAGES, ignore_query=True)]
    assert pages == ["2"] and MAX_PAGES == 2  # page 2's next_page_url (page 3) is not followed
    assert server.hits_for(CURRENT) == []  # public_inspection is off

    found = documents(engine)
    assert sorted(found) == ["2025-00636", "2025-00637", "2026-00789", "2026-24110"]
    document, [version] = found["2025-00636"]
    assert document.url == server.url(
        "/documents/2025/01/15/2025-00636/framework-for-artificial-intelligence-diffusion"
    )
    assert document.title == "Framework for Artificial Intelligence Diffusion"
    assert version.final_url == server.url("/api/v1/documents/2025-00636.json")
    evidence = version.evidence
    assert evidence["format"] == "federal_register" and evidence["stage"] == "published"
    [text] = evidence["attachments"]
    assert text["role"] == "full_text" and text["url"] == server.url(fr.full_text_path("2025-00636"))
    content = text_of(engine, version)
    assert "Citation: 90 FR 4544" in content and "You may not export, reexport" in content
    assert [e.kind for e in events(engine)] == ["new"] * 4 and all(e.baseline for e in events(engine))


def test_rechecks_are_conditional_and_page_views_make_no_version(server, fr, fr_source):
    fr.search(["2025-00636"])
    fr.document("2025-00636", etag='"v1"', last_modified="Tue, 24 Nov 2026 13:00:00 GMT")
    config, engine = fr_source()
    check(config, engine)

    result = check(config, engine)  # nothing changed: 304, and the full text is not asked for again
    assert result.status == "ok" and result.unchanged == 1 and result.new_versions == 0
    second = server.hits_for("/api/v1/documents/2025-00636.json")[1]
    assert second.headers["If-None-Match"] == '"v1"'
    assert second.headers["If-Modified-Since"] == "Tue, 24 Nov 2026 13:00:00 GMT"
    assert len(server.hits_for(fr.full_text_path("2025-00636"))) == 1

    fr.document("2025-00636", saved="2025-00636.page_views.json", etag='"v2"')
    result = check(config, engine)
    assert result.status == "ok" and result.fetched == 1 and result.new_versions == 0
    [(_, versions)] = documents(engine).values()
    assert len(versions) == 1 and [e.kind for e in events(engine)] == ["new"]


# --- public inspection --------------------------------------------------------


def test_public_inspection_then_publication_is_one_document_with_two_versions(server, fr, fr_source):
    fr.search(["2026-00789"])
    fr.document("2026-00789")
    fr.public_inspection(["2026-24110", "2026-24087"])  # 2026-24087 is another agency's filing
    config, engine = fr_source(public_inspection=True)
    assert check(config, engine).status == "ok"

    found = documents(engine)
    assert sorted(found) == ["2026-00789", "2026-24110"]
    document, [filed] = found["2026-24110"]
    assert document.url.startswith(server.url("/public-inspection/2026-24110/"))
    evidence = filed.evidence
    assert evidence["stage"] == "public_inspection"
    assert [a["role"] for a in evidence["attachments"]] == ["listing", "full_text"]
    assert "ETag" not in filed.headers  # the listing's validators are not this record's
    assert "RIN 0694-AJ90" in text_of(engine, filed)

    fr.search(["2026-24110", "2026-00789"])
    fr.document("2026-24110")
    assert check(config, engine).status == "ok"
    assert len(server.hits_for("/public-inspection/raw_text/202/624/110.txt")) == 1  # published now: PI skipped

    _, versions = documents(engine)["2026-24110"]
    assert [v.evidence["stage"] for v in versions] == ["public_inspection", "published"]
    changed = [e for e in events(engine) if e.kind == "changed"]
    assert len(changed) == 1
    [event] = changed
    assert event.severity == "substantive" and (event.from_version, event.to_version) == (1, 2)
    reasons = " ".join(event.reasons)
    assert "Status" in reasons and "Citation" in reasons
    assert "Citation: 91 FR 82417" in text_of(engine, versions[1])


def test_a_correction_links_to_what_it_corrects(server, fr, fr_source):
    fr.search(["2026-24110"])
    fr.document("2026-24110")
    config, engine = fr_source()
    check(config, engine)

    fr.search(["C1-2026-24110", "2026-24110"])
    fr.document("C1-2026-24110")
    fr.document("2026-24110", saved="2026-24110.corrected.json")
    assert check(config, engine).status == "ok"

    found = documents(engine)
    _, [correction] = found["C1-2026-24110"]
    assert "Correction of: 2026-24110" in text_of(engine, correction)
    _, [_, corrected] = found["2026-24110"]
    assert "Corrections: C1-2026-24110" in text_of(engine, corrected)
    kinds = sorted((e.kind, e.baseline) for e in events(engine))
    assert kinds == [("changed", False), ("new", False), ("new", True)]


# --- faults: never a version --------------------------------------------------


@pytest.mark.parametrize("where", ["search", "document", "full_text"])
@sqlite_only
def test_the_request_access_page_is_a_failure(server, fr, fr_source, where):
    fr.search(["2025-00636"])
    fr.document("2025-00636")
    page = (FR / "request_access.html").read_bytes()
    path = {
        "search": SEARCH,
        "document": "/api/v1/documents/2025-00636.json",
        "full_text": fr.full_text_path("2025-00636"),
    }[where]
    server.set(path, page, ignore_query=where == "search")
    config, engine = fr_source()
    result = check(config, engine)
    # A search that answered is a reachable source, but the document it listed is not stored.
    assert result.status == ("failed" if where == "search" else "ok")
    assert "'Request Access' page" in result.failures[0]
    assert documents(engine) == {} and events(engine) == []
    assert (source_row(engine).baseline_at is None) == (where == "search")


@sqlite_only
def test_malformed_json_is_a_failure_and_the_other_documents_still_count(fr, fr_source):
    fr.search(["2026-00789", "2025-00636"])
    fr.document("2026-00789")
    fr.document("2025-00636", saved="malformed.json")
    config, engine = fr_source()
    result = check(config, engine)
    assert result.status == "ok" and result.new_versions == 1
    [failure] = result.failures
    assert failure.startswith("malformed JSON from ") and "2025-00636.json" in failure
    assert sorted(documents(engine)) == ["2026-00789"]


@sqlite_only
def test_a_full_text_that_cannot_be_fetched_stores_no_version(server, fr, fr_source):
    fr.search(["2025-00636"])
    fr.document("2025-00636")
    server.set(fr.full_text_path("2025-00636"), "not found", status=404, content_type="text/plain")
    config, engine = fr_source()
    result = check(config, engine)
    assert result.failures[0].startswith("full text of 2025-00636 could not be fetched: HTTP 404")
    assert documents(engine) == {} and events(engine) == []


@pytest.mark.parametrize("status", [429, 503])
@sqlite_only
def test_back_off_with_retry_after_is_honoured(server, fr, fr_source, status):
    fr.search(["2025-00636"])
    fr.document("2025-00636")
    server.set(
        SEARCH,
        "Too many requests",
        status=status,
        content_type="text/plain",
        headers={"Retry-After": "3600"},
        ignore_query=True,
    )
    config, engine = fr_source(public_inspection=True)
    result = check(config, engine)
    assert result.status == "failed" and f"HTTP {status}" in result.failures[0]
    assert server.hits_for(CURRENT) == []  # the check ended: nothing more was asked
    source = source_row(engine)
    assert source.retry_after is not None and source.consecutive_failures == 1
    assert documents(engine) == {} and events(engine) == []

    result = check(config, engine)
    assert result.status == "skipped" and "Retry-After" in result.message
    assert len(server.hits_for(SEARCH, ignore_query=True)) == 1


# --- searches and politeness, without a crawl ----------------------------------


@sqlite_only
def test_searches_per_agency_term_rin_and_cfr_part(write_config):
    config = load_config(
        write_config(
            """
            [[sources]]
            name = "federal-register"
            kind = "federal_register"
            agencies = ["industry-and-security-bureau"]
            terms = ["artificial intelligence"]
            rins = ["0694-AJ90"]
            cfr_parts = ["744", "15 CFR 742"]
            types = ["RULE"]
            """
        )
    )
    searches = [
        dict(parse_qsl(urlsplit(url).query)) for url in search_urls(config.sources[0], "https://fr.test/api/v1")
    ]
    assert [s.get("conditions[term]") for s in searches] == ["artificial intelligence", None, None, None]
    assert searches[0]["conditions[agencies][]"] == "industry-and-security-bureau"
    assert searches[1]["conditions[regulation_id_number]"] == "0694-AJ90"
    assert [(s.get("conditions[cfr][title]"), s.get("conditions[cfr][part]")) for s in searches[2:]] == [
        ("15", "744"),
        ("15", "742"),
    ]
    assert all(s["conditions[type][]"] == "RULE" and s["order"] == "newest" for s in searches)


@pytest.mark.parametrize("delay, jitter", [(0, 0.5), (0.3, 0.5), (2, 0.5)])
def test_at_most_five_requests_a_second_whatever_the_config(delay, jitter):
    settings = Settings({"DOWNLOAD_DELAY": delay, "DOWNLOAD_DELAY_JITTER": jitter, "CONCURRENT_REQUESTS_PER_DOMAIN": 8})
    FederalRegisterSpider.update_settings(settings)
    shortest = settings.getfloat("DOWNLOAD_DELAY") * (1 - settings.getfloat("DOWNLOAD_DELAY_JITTER"))
    assert shortest >= MIN_DELAY >= 0.2
    assert settings.getfloat("DOWNLOAD_DELAY") >= delay
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1


# --- URLs found in the API's answers: only http(s) on the FR's hosts ----------


def serve_record(server, fr, number: str, **fields) -> None:
    """The document's saved JSON with `fields` replaced."""
    record = json.loads(fr.body(f"{number}.json"))
    record.update(fields)
    server.set(f"/api/v1/documents/{number}.json", json.dumps(record), content_type=JSON)


def versions_count(engine) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(Version)).all())


@sqlite_only
def test_a_body_html_url_on_the_local_disk_is_refused_never_read(server, fr, fr_source):
    config, engine = fr_source()
    fr.search(["2025-00636", "2026-00789"])
    fr.document("2026-00789")
    secret = f"file://{config.path.resolve()}"
    serve_record(server, fr, "2025-00636", body_html_url=secret)
    result = check(config, engine)
    [failure] = result.failures
    assert "body_html_url" in failure and secret in failure and "2025-00636" in failure
    assert sorted(documents(engine)) == ["2026-00789"]  # the other document is stored as ever
    with session_scope(engine) as session:
        for version in session.exec(select(Version)).all():
            for attached in version.evidence.get("attachments", []):
                assert attached["url"].startswith(server.base_url)


@sqlite_only
def test_a_public_inspection_raw_text_url_on_the_local_disk_is_refused(server, fr, fr_source):
    fr.search(["2026-00789"])
    fr.document("2026-00789")
    fr.public_inspection(["2026-24110"])
    listing = json.loads(server.routes[CURRENT].body)
    listing["results"][0]["raw_text_url"] = "file:///etc/passwd"
    server.set(CURRENT, json.dumps(listing), content_type=JSON)
    config, engine = fr_source(public_inspection=True)
    result = check(config, engine)
    [failure] = result.failures
    assert "raw_text_url" in failure and "file:///etc/passwd" in failure
    assert sorted(documents(engine)) == ["2026-00789"]


@sqlite_only
def test_text_and_next_page_urls_on_another_port_are_refused(server, other_server, fr, fr_source):
    other_server.set("/text.txt", "A text that must never be read.", content_type="text/plain")
    fr.search(["2025-00636"], ["2025-00637"])
    page1 = json.loads(server.routes[SEARCH].body)
    page1["next_page_url"] = other_server.url("/api/v1/documents?page=2")
    server.set(SEARCH, json.dumps(page1), content_type=JSON, ignore_query=True)
    serve_record(server, fr, "2025-00636", body_html_url=None, raw_text_url=other_server.url("/text.txt"))
    config, engine = fr_source()
    result = check(config, engine)
    assert other_server.hits == []  # not even its robots.txt
    assert len(result.failures) == 2
    assert any("next_page_url" in f and other_server.url("/api/v1/documents?page=2") in f for f in result.failures)
    assert any("raw_text_url" in f and other_server.url("/text.txt") in f for f in result.failures)
    assert documents(engine) == {}


@sqlite_only
def test_a_full_text_redirected_to_another_host_is_not_followed(server, other_server, fr, fr_source):
    fr.search(["2025-00636"])
    fr.document("2025-00636")
    server.set(fr.full_text_path("2025-00636"), b"", status=302, headers={"Location": other_server.url("/page")})
    config, engine = fr_source()
    result = check(config, engine)
    assert other_server.hits == []
    [failure] = result.failures
    assert "redirected" in failure and other_server.url("/page") in failure
    assert documents(engine) == {}


# --- full texts that are not there ---------------------------------------------


def test_an_older_document_without_html_falls_back_to_its_raw_text(server, fr, fr_source):
    fr.search(["2025-00636"])
    fr.document("2025-00636")
    server.set(fr.full_text_path("2025-00636"), "not found", status=404, content_type="text/plain")
    raw_text_url = json.loads(fr.body("2025-00636.json"))["raw_text_url"]
    server.set(
        urlsplit(raw_text_url).path,
        "Section 1. You may not export, reexport or transfer.\n",
        content_type="text/plain; charset=utf-8",
    )
    config, engine = fr_source()
    result = check(config, engine)
    assert result.status == "ok" and result.failures == [] and result.new_versions == 1
    _, [version] = documents(engine)["2025-00636"]
    [text] = version.evidence["attachments"]
    assert text["role"] == "full_text" and text["url"] == raw_text_url
    assert "You may not export, reexport or transfer." in text_of(engine, version)


def test_a_filing_whose_text_is_not_available_yet_is_a_version_of_its_metadata(server, fr, fr_source):
    fr.search(["2026-00789"])
    fr.document("2026-00789")
    fr.public_inspection(["2026-24110"])
    server.set("/public-inspection/raw_text/202/624/110.txt", "not found", status=404, content_type="text/plain")
    config, engine = fr_source(public_inspection=True)
    result = check(config, engine)
    assert result.status == "ok" and result.failures == []
    _, [filed] = documents(engine)["2026-24110"]
    evidence = filed.evidence
    assert evidence["stage"] == "public_inspection"
    assert [a["role"] for a in evidence["attachments"]] == ["listing"]
    assert "RIN 0694-AJ90" not in text_of(engine, filed) and text_of(engine, filed)  # the record's fields only


@sqlite_only
def test_a_document_number_is_one_path_segment_of_the_api(server, fr, fr_source):
    fr.search(["2025-00636"])
    listing = json.loads(server.routes[SEARCH].body)
    listing["results"].append({"document_number": "../../../../private?x#y", "title": "odd"})
    server.set(SEARCH, json.dumps(listing), content_type=JSON, ignore_query=True)
    fr.document("2025-00636")
    config, engine = fr_source()
    result = check(config, engine)
    assert not any("/../" in hit.path or hit.path.startswith("/private") for hit in server.hits)
    assert server.hits_for("/api/v1/documents/..%2F..%2F..%2F..%2Fprivate%3Fx%23y.json")
    assert any("HTTP 404" in failure for failure in result.failures)


# --- adversarial pass (issue 10): what still breaks --------------------------------------


def bad_record_failures(result) -> list[str]:
    return [failure for failure in result.failures if "skipped:" in failure]


@sqlite_only
def test_one_malformed_search_result_costs_only_itself(server, fr, fr_source):
    """The crawl of one case; every odd value is read in process above."""
    odd = HOSTILE
    fr.search(["2025-00636", "2026-00789"])
    listing = json.loads(server.routes[SEARCH].body)
    listing["results"].insert(0, {"document_number": odd, "title": "odd"})
    listing["results"].insert(2, "not a record")
    server.set(SEARCH, json.dumps(listing), content_type=JSON, ignore_query=True)
    fr.document("2025-00636")
    fr.document("2026-00789")
    config, engine = fr_source()
    result = check(config, engine)
    assert sorted(documents(engine)) == ["2025-00636", "2026-00789"]
    first, third = bad_record_failures(result)
    assert first.startswith("result 1 of http://127.0.0.1:") and "document_number" in first
    assert third.startswith("result 3 of ") and "not an object" in third
    assert "\x1b" not in first and "\x07" not in first  # escaped
    assert len(first.split(" skipped: ")[1]) < 120  # and short, however long the value
    assert not any(hit.path.startswith("/api/v1/documents/") and "2099" in hit.path for hit in server.hits)


@sqlite_only
def test_a_document_number_written_as_a_number_is_read_as_its_digits(server, fr, fr_source):
    fr.search(["2025-00636"])
    listing = json.loads(server.routes[SEARCH].body)
    listing["results"].insert(0, {"document_number": 2025, "title": "a number, not a string"})
    server.set(SEARCH, json.dumps(listing), content_type=JSON, ignore_query=True)
    fr.document("2025-00636")
    server.set("/api/v1/documents/2025.json", fr.body("2025-00636.json"), content_type=JSON)
    config, engine = fr_source()
    result = check(config, engine)
    # It was "could not be stored: TypeError: argument of type 'int' is not iterable".
    assert result.failures == []
    assert sorted(documents(engine)) == ["2025", "2025-00636"]


@sqlite_only
def test_one_malformed_public_inspection_record_costs_only_itself(server, fr, fr_source):
    """The crawl of one case; every odd field is read in process above."""
    odd = ODD_INSPECTION_FIELDS[0]
    fr.search(["2026-00789"])
    fr.document("2026-00789")
    fr.public_inspection(["2026-24110"])
    listing = json.loads(server.routes[CURRENT].body)
    listing["results"].insert(0, {**listing["results"][0], **odd})
    server.set(CURRENT, json.dumps(listing), content_type=JSON)
    config, engine = fr_source(
        public_inspection=True, extra='agencies = ["industry-and-security-bureau"]\ntypes = ["rule"]'
    )
    result = check(config, engine)
    assert "2026-24110" in documents(engine)
    [failure] = bad_record_failures(result)
    field = next(iter(odd))
    assert failure.startswith(f"result 1 of {server.base_url}{CURRENT} skipped: {field}"), failure


@sqlite_only
def test_a_public_inspection_record_of_another_agency_is_not_read_further(server, fr, fr_source):
    fr.search(["2026-00789"])
    fr.document("2026-00789")
    fr.public_inspection(["2026-24110"])
    listing = json.loads(server.routes[CURRENT].body)
    other = {**listing["results"][0], "agencies": [{"slug": "another-agency"}], "document_number": ["x"]}
    listing["results"].insert(0, other)
    server.set(CURRENT, json.dumps(listing), content_type=JSON)
    config, engine = fr_source(public_inspection=True)
    result = check(config, engine)
    assert "2026-24110" in documents(engine) and bad_record_failures(result) == []


# --- typed failures, in process -------------------------------------------------------


def in_process_spider() -> FederalRegisterSpider:
    source = FederalRegisterConfig(
        name="federal-register",
        kind="federal_register",
        interval=3600,
        base_url=REAL,
        agencies=("industry-and-security-bureau",),
    )
    return FederalRegisterSpider(source=source)


def html_answer(request, body: bytes) -> HtmlResponse:
    return HtmlResponse(url=request.url, status=200, headers={"Content-Type": "text/html"}, body=body, request=request)


def test_the_request_access_page_is_an_access_page_failure_that_ends_the_check():
    spider = in_process_spider()
    request = spider.search_request(0, spider.searches[0], page=1)
    yielded = []
    with pytest.raises(CloseSpider):
        yielded.extend(spider.parse_search(html_answer(request, (FR / "request_access.html").read_bytes())))
    [failure] = yielded
    assert failure.reason is FailureReason.ACCESS_PAGE and "'Request Access' page" in failure.error


def test_backing_off_is_decided_by_the_reason_not_the_words():
    spider = in_process_spider()
    worded = FetchFailed(
        "federal-register",
        "2025-00636",
        f"{REAL}/api/v1/documents/2025-00636.json",
        now(),
        error="HTTP 500: please do not use the Request Access form",
        reason=FailureReason.HTTP_STATUS,
        status=500,
    )
    spider.back_off_if_asked(worded)  # the check goes on
    with pytest.raises(CloseSpider):
        spider.back_off_if_asked(replace(worded, error="an HTML page", reason=FailureReason.ACCESS_PAGE, status=200))
    with pytest.raises(CloseSpider):
        spider.back_off_if_asked(replace(worded, status=429))
