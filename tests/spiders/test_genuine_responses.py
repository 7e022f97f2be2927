"""The spiders' parse methods on genuine recorded answers (tests/files/genuine), in process.

City-scrapers style: each test builds the Request the spider itself makes (so its meta is
the spider's), wraps a saved genuine answer in a scrapy response for it, calls the parse
method and checks one thing. No server and no network: what is tested is the reading of
the real shapes, not the fetching.
"""

from __future__ import annotations

import json

import pytest
from scrapy.http import HtmlResponse, TextResponse

from tests.conftest import FILES
from tracker.items import ListingRead, Snapshot
from tracker.kinds import KINDS
from tracker.kinds.ecfr.config import EcfrConfig
from tracker.kinds.ecfr.spider import EcfrSpider
from tracker.kinds.federal_register.config import FederalRegisterConfig
from tracker.kinds.federal_register.spider import FederalRegisterSpider

FR = FILES / "genuine" / "federal_register"
ECFR = FILES / "genuine" / "ecfr"
API = "https://www.federalregister.gov/api/v1"
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


def answer(request, name: str, headers: dict | None = None, folder=FR, cls=TextResponse):
    """The saved genuine answer `name` as the response to `request`."""
    return cls(
        url=request.url, status=200, headers=headers or JSON_HEADERS, body=(folder / name).read_bytes(), request=request
    )


def requests_in(results) -> list:
    return [r for r in results if hasattr(r, "callback")]


# --- documents.json (a search) ----------------------------------------------------


def search_results():
    spider = fr_spider(agencies=("energy-department",))
    request = spider.search_request(0, spider.searches[0], page=1)
    return spider, list(spider.parse_search(answer(request, "documents-search.json")))


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
    assert next_page.url == json.loads((FR / "documents-search.json").read_bytes())["next_page_url"]
    assert "search_after_cursor=WzE3MzU2MDMyMDAwMDAsIjIwMjQtMzE0MzkiXQ" in next_page.url


# --- documents/{number}.json and its full text ----------------------------------------


def document_results(number: str):
    spider = fr_spider(agencies=("executive-office-of-the-president",))
    request = spider.document_request(number)
    return spider, list(spider.parse_document(answer(request, f"{number}.json")))


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
        answer(full_text, "2026-19417.body.html", {"Content-Type": "text/html"}, cls=HtmlResponse)
    )
    assert isinstance(snapshot, Snapshot)
    assert "(d) The costs for publication of this order shall be borne by the Department of Commerce." in (
        KINDS["federal_register"].read(snapshot, spider.source).text()
    )


def test_a_1994_raw_text_answer_is_taken_as_the_full_text_not_as_the_request_access_page():
    # Served as text/plain, it is an HTML page (<title>Federal Register, Volume 59 …</title>, the text in <pre>).
    spider, [full_text] = document_results("93-32104")
    [snapshot] = spider.parse_full_text(answer(full_text, "93-32104.raw.txt", {"Content-Type": "text/plain"}))
    assert isinstance(snapshot, Snapshot)
    assert [a["role"] for a in snapshot.extra["attachments"]] == ["full_text"]


# --- public-inspection-documents/current.json ---------------------------------------


def inspection_results(**options):
    spider = fr_spider(public_inspection=True, **options)
    request = spider.tracked_request(
        f"{API}/public-inspection-documents/current.json",
        key="current",
        callback=spider.parse_public_inspection,
        conditional=False,
    )
    return list(spider.parse_public_inspection(answer(request, "public-inspection-current.json")))


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


# --- eCFR part XML ---------------------------------------------------------------------


@pytest.fixture
def ecfr_spider():
    source = EcfrConfig(
        name="cfr-1", kind="ecfr", interval=3600, base_url="https://www.ecfr.gov", title=1, parts=("17",)
    )
    return EcfrSpider(source=source)


def test_ecfr_part_xml_is_a_snapshot_of_the_part_page(ecfr_spider):
    request = ecfr_spider.xml_request("17", "2022-12-29", "2022-12-29")
    [snapshot] = ecfr_spider.parse_xml(
        answer(request, "title-1-part-17.xml", {"Content-Type": "application/xml"}, folder=ECFR)
    )
    assert (snapshot.key, snapshot.url) == ("1 CFR 17", "https://www.ecfr.gov/current/title-1/part-17")


def test_ecfr_part_xml_snapshot_reads_with_cfr_anchors(ecfr_spider):
    request = ecfr_spider.xml_request("17", "2022-12-29", "2022-12-29")
    [snapshot] = ecfr_spider.parse_xml(
        answer(request, "title-1-part-17.xml", {"Content-Type": "application/xml"}, folder=ECFR)
    )
    row = next(
        b for b in KINDS["ecfr"].read(snapshot, ecfr_spider.source).blocks if b.text == "Monday | Wednesday | Thursday"
    )
    assert row.section == "1 CFR 17.2(c)"
