"""The `site` spider: its callback on saved bis.gov answers in process, then real crawls.

The first tests call the spider's own requests and callback on the saved pages and PDFs
(no server, in the fast tier): what it reads from a page and which links it follows. The
crawls after them run the real crawl (a child process with Scrapy) on a loopback copy of
bis.gov and inspect the database: following, hosts, PDFs and faults. The pages are saved
bis.gov markup (tests/files/bis/), the PDFs real files; the loopback host stands in for
www.bis.gov.
"""

import hashlib
import re

import pytest
from sqlmodel import select

from storage.blobs import get_blob
from storage.db import open_database, session_scope
from storage.models import Document, Event, Version
from tests.conftest import FILES, sqlite_only
from tests.support.crawls import run_check
from tests.support.responses import answer, requests_in, start_requests
from tracker.config import load_config
from tracker.items import NotModified, Snapshot
from tracker.kinds import KINDS
from tracker.kinds.site.config import SiteConfig
from tracker.kinds.site.spider import SiteSpider
from tracker.severity.rules import assess_links
from tracker.stored import load_content

BIS = FILES / "bis"
LISTING = "/news-updates"
PRESS_RELEASE = "/press-release/department-commerce-announces-rescission-biden-era-artificial-intelligence-diffusion-rule-strengthens"
OTHER_RELEASES = [
    "/press-release/commerce-adds-entities-entity-list-advancing-chinas-quantum-and-military-modernization",
    "/press-release/bis-imposes-penalty-unlicensed-exports-advanced-computing-items",
]
GP10 = "/media/documents/general-prohibition-10-guidance-may-13-2025.pdf"
POLICY = "/media/documents/ai-policy-statement-training-ai-models-may-13-2025"  # a PDF without .pdf
DIVERSION = "/media/documents/ai-counter-diversion-industry-guidance-may-13-2025.pdf"
GUIDANCE_FILES = {
    GP10: "general-prohibition-10-guidance-may-13-2025.pdf",
    POLICY: "ai-policy-statement-training-ai-models-may-13-2025.pdf",
    DIVERSION: "ai-counter-diversion-industry-guidance-may-13-2025.pdf",
}
OTHER_RELEASE_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Press release | Bureau of Industry and Security</title>
<script>window.dataLayer = [];</script></head><body><header><nav><a href="/news-updates">News</a></nav></header>
<main><h1>Press release</h1><p>BIS announced an action today under the Export Administration Regulations.</p></main>
<footer>1401 Constitution Ave. NW</footer></body></html>"""


def fixture(name: str) -> bytes:
    return (BIS / name).read_bytes()


def release(version: str) -> bytes:
    return fixture(f"press-release-ai-diffusion-rescission-{version}.html")


def listing_with(*links: str) -> bytes:
    """The listing page with extra links added to its main content."""
    anchors = "".join(f'<p><a href="{link}">{link}</a></p>' for link in links)
    return fixture("news-updates.html").replace(b"</main>", anchors.encode() + b"</main>")


def serve_bis(server, version="v1-guidance-linked", listing=None, **options):
    """The whole site: listing, press releases and the guidance PDFs."""
    server.set(LISTING, listing or fixture("news-updates.html"), **options)
    server.set(PRESS_RELEASE, release(version), **options)
    for path in OTHER_RELEASES:
        server.set(path, OTHER_RELEASE_PAGE)
    for path, name in GUIDANCE_FILES.items():
        server.set(path, fixture(name), content_type="application/pdf")


# --- in process: the spider's requests and callback on saved answers -------------------------

BIS_GOV = "https://www.bis.gov"
PDF_HEADERS = {"Content-Type": "application/pdf"}


def site_spider(known_urls=(), stored_links=None, **options) -> SiteSpider:
    source = SiteConfig(
        name="bis",
        kind="site",
        interval=1800,
        start_urls=(f"{BIS_GOV}{LISTING}",),
        follow=(r"^https://www\.bis\.gov/(press-release|media/documents)/",),
        **options,
    )
    return SiteSpider(source=source, known_urls=list(known_urls), stored_links=stored_links)


def test_the_start_pages_and_the_known_documents_are_requested_once_each():
    known = [f"{BIS_GOV}{GP10}", f"{BIS_GOV}{LISTING}", f"{BIS_GOV}/about-bis"]  # the last is not followed
    requests = start_requests(site_spider(known_urls=known))
    assert [r.url for r in requests] == [f"{BIS_GOV}{LISTING}", f"{BIS_GOV}{GP10}"]
    assert all(r.meta["rulewatch_key"] == r.url and r.meta["rulewatch_source"] == "bis" for r in requests)


def test_the_saved_listing_is_a_snapshot_and_its_press_releases_are_followed():
    spider = site_spider()
    [listing] = start_requests(spider)
    [snapshot, *requests] = spider.parse(answer(listing, fixture("news-updates.html")))
    assert isinstance(snapshot, Snapshot) and snapshot.key == f"{BIS_GOV}{LISTING}"
    # Navigation, pagination, filters, mail and other hosts are not followed; the #summary is dropped.
    assert [r.url for r in requests] == [f"{BIS_GOV}{PRESS_RELEASE}"] + [f"{BIS_GOV}{path}" for path in OTHER_RELEASES]
    assert all(r.meta["rulewatch_key"] == r.url for r in requests)


def test_a_saved_press_release_reads_as_its_text_and_its_guidance_links_are_followed():
    spider = site_spider()
    request = spider.schedule(f"{BIS_GOV}{PRESS_RELEASE}")
    [snapshot, *requests] = spider.parse(answer(request, release("v1-guidance-linked")))
    assert [r.url for r in requests] == [f"{BIS_GOV}{path}" for path in (GP10, POLICY, DIVERSION)]  # no #page=1
    content = KINDS["site"].read(snapshot, spider.source)
    assert "Huawei Ascend chips anywhere in the world violates U.S. export controls" in content.text()
    assert f"{BIS_GOV}{GP10}" in content.links


def test_a_saved_pdf_is_a_snapshot_that_reads_and_leads_nowhere():
    spider = site_spider()
    request = spider.schedule(f"{BIS_GOV}{POLICY}")  # served without .pdf in its path, as on bis.gov
    [snapshot] = spider.parse(answer(request, fixture(GUIDANCE_FILES[POLICY]), headers=PDF_HEADERS))
    text = KINDS["site"].read(snapshot, spider.source).text()
    assert "policy statement" in text.lower() and "train" in text


def test_a_304_follows_the_links_of_the_stored_version():
    stored = {f"{BIS_GOV}{PRESS_RELEASE}": [f"{BIS_GOV}{GP10}", f"{BIS_GOV}/about-bis"]}
    spider = site_spider(stored_links=lambda key: stored.get(key, []))
    request = spider.schedule(f"{BIS_GOV}{PRESS_RELEASE}")
    [outcome, *requests] = spider.parse(answer(request, b"", status=304, headers={}))
    assert isinstance(outcome, NotModified)
    assert [r.url for r in requests] == [f"{BIS_GOV}{GP10}"]


def test_max_pages_caps_what_is_requested():
    spider = site_spider(max_pages=2)
    [listing] = start_requests(spider)
    requests = requests_in(spider.parse(answer(listing, fixture("news-updates.html"))))
    assert [r.url for r in requests] == [f"{BIS_GOV}{PRESS_RELEASE}"]


def test_a_malformed_link_is_skipped_alone():
    spider = site_spider()
    [listing] = start_requests(spider)
    page = listing_with("https://www.bis.gov:99999/press-release/x", "http://[bad/press-release/y")
    requests = requests_in(spider.parse(answer(listing, page)))
    assert [r.url for r in requests] == [f"{BIS_GOV}{PRESS_RELEASE}"] + [f"{BIS_GOV}{path}" for path in OTHER_RELEASES]


# --- loopback crawls ------------------------------------------------------------------------


@pytest.fixture
def bis_source(server, write_config):
    def make(follow=None, extra=""):
        follow = follow or f"^{re.escape(server.base_url)}/(press-release|media/documents)/"
        config = load_config(
            write_config(
                f"""
                [[sources]]
                name = "bis"
                kind = "site"
                start_urls = ["{server.url(LISTING)}"]
                follow = ['{follow}']
                {extra}
                """
            )
        )
        return config, open_database(config.database_url)

    return make


def check(config, engine):
    [result] = run_check(config, engine, ["bis"])
    return result


def documents(engine) -> dict[str, Document]:
    with session_scope(engine) as session:
        return {d.key: d for d in session.exec(select(Document))}


def versions_of(engine, url: str) -> list[Version]:
    with session_scope(engine) as session:
        document = session.exec(select(Document).where(Document.key == url)).one()
        return list(session.exec(select(Version).where(Version.document_id == document.id).order_by(Version.number)))


def events_of(engine, url: str) -> list[Event]:
    with session_scope(engine) as session:
        document = session.exec(select(Document).where(Document.key == url)).one()
        return list(session.exec(select(Event).where(Event.document_id == document.id).order_by(Event.id)))


def content_of(engine, url: str, number: int | None = None):
    versions = versions_of(engine, url)
    version = versions[-1] if number is None else versions[number - 1]
    with session_scope(engine) as session:
        return load_content(session, version)


def fetched_paths(server) -> list[str]:
    return [hit.path for hit in server.hits if hit.path != "/robots.txt"]


def test_crawl_follows_matching_links_on_allowed_hosts_and_reads_pdfs(server, other_server, bis_source):
    port = server.base_url.rsplit(":", 1)[1]
    listing = listing_with(
        other_server.url("/press-release/on-another-port"),
        f"http://localhost:{port}/press-release/same-server-other-name",
        "/media/documents/",  # matches the pattern once resolved: followed, 404, a failure
        "http://[::1/press-release/broken",  # a malformed link is skipped
    )
    serve_bis(server, listing=listing)
    # A follow pattern that names no host: only the host rule keeps the crawl at home.
    config, engine = bis_source(follow="/(press-release|media/documents)/")
    result = check(config, engine)
    assert result.status == "ok"

    base = server.base_url
    expected = {
        base + LISTING,
        base + PRESS_RELEASE,
        *(base + p for p in OTHER_RELEASES),
        *(base + p for p in GUIDANCE_FILES),
    }
    assert set(documents(engine)) == expected  # the "#summary" and "#page=1" fragments are gone from the keys
    assert result.new_versions == len(expected)

    paths = fetched_paths(server)
    assert len(paths) == len(set(paths)) == len(expected) + 1  # each URL once, plus the /media/documents/ 404
    for unmatched in ("/about-bis", "/news-updates?page=1", "/news-updates?type=press-release", "/privacy-policy"):
        assert server.hits_for(unmatched) == []
    assert other_server.hits == []  # not even its robots.txt
    assert all(not hit.headers.get("Host", "").startswith("localhost") for hit in server.hits)

    gp10 = content_of(engine, base + GP10).text()
    for words in ("General Prohibition 10", "15 CFR 736.2(b)(10)", "Huawei Ascend 910B", "Ascend 910C", "Ascend 910D"):
        assert words in gp10
    assert "Page 1 of 2" not in gp10
    assert content_of(engine, base + POLICY).title.startswith("Policy Statement on Controls")
    assert "Chinese entities" in content_of(engine, base + POLICY).text()
    assert "red flags" in content_of(engine, base + DIVERSION).text()
    [pdf_version] = versions_of(engine, base + POLICY)
    assert pdf_version.content_type == "application/pdf"

    press = content_of(engine, base + PRESS_RELEASE)
    assert {base + p for p in GUIDANCE_FILES} <= set(press.links)
    assert "Skip to main content" not in press.text() and "dataLayer" not in press.text()


@sqlite_only
def test_redirect_to_another_host_is_refused(server, other_server, bis_source):
    port = server.base_url.rsplit(":", 1)[1]
    moved, renamed, local = "/press-release/moved", "/press-release/renamed", "/press-release/local"
    serve_bis(server, listing=listing_with(moved, renamed, local))
    server.set(moved, b"", status=302, headers={"Location": other_server.url("/press-release/moved")})
    server.set(local, b"", status=301, headers={"Location": f"http://localhost:{port}{PRESS_RELEASE}"})
    server.set(renamed, b"", status=301, headers={"Location": PRESS_RELEASE})  # same host: followed
    other_server.set("/press-release/moved", OTHER_RELEASE_PAGE)
    config, engine = bis_source()
    result = check(config, engine)

    refused = [f for f in result.failures if "redirected (30" in f and "not followed" in f]
    assert len(refused) == 2
    assert any(server.url(moved) in f and other_server.base_url in f for f in refused)
    assert other_server.hits == []
    assert all(not hit.headers.get("Host", "").startswith("localhost") for hit in server.hits)
    found = documents(engine)
    assert server.url(moved) not in found and server.url(local) not in found
    [version] = versions_of(engine, server.url(renamed))
    assert version.final_url == server.url(PRESS_RELEASE)


def test_corrupt_pdf_is_a_failure_with_bytes_kept_then_found_again_behind_a_304(server, bis_source):
    corrupt = fixture("corrupt.pdf")
    serve_bis(server, etag='"v1"')
    server.set(GP10, corrupt, content_type="application/pdf")
    config, engine = bis_source()
    result = check(config, engine)
    assert result.status == "ok"
    [failure] = result.failures
    assert "PDF could not be parsed" in failure and "raw bytes kept" in failure
    assert server.url(GP10) not in documents(engine)
    with session_scope(engine) as session:
        assert get_blob(session, hashlib.sha256(corrupt).hexdigest()) == corrupt

    # The press release has not changed (304), so its stored links lead to the mended PDF.
    server.set(GP10, fixture(GUIDANCE_FILES[GP10]), content_type="application/pdf")
    result = check(config, engine)
    assert result.failures == [] and result.unchanged >= 2
    assert server.hits_for(PRESS_RELEASE)[-1].headers["If-None-Match"] == '"v1"'
    [event] = events_of(engine, server.url(GP10))
    assert event.kind == "new" and not event.baseline
    assert "General Prohibition 10" in content_of(engine, server.url(GP10)).text()


def test_gone_once_is_not_removed_gone_three_times_is(server, bis_source):
    serve_bis(server, version="v1")
    config, engine = bis_source(follow=f"^{re.escape(server.base_url)}/press-release/")
    check(config, engine)
    unlinked = fixture("news-updates.html").replace(PRESS_RELEASE.encode(), b"/press-release/elsewhere")
    server.set("/press-release/elsewhere", OTHER_RELEASE_PAGE)

    def gone():
        server.set(LISTING, unlinked)  # no longer linked: the press release is checked as a known document
        server.set(PRESS_RELEASE, fixture("not-found.html"), status=404)

    gone()
    result = check(config, engine)
    assert any("HTTP 404" in f for f in result.failures)
    assert documents(engine)[server.url(PRESS_RELEASE)].missing_checks == 1
    serve_bis(server, version="v1")  # back again: the count starts over
    check(config, engine)
    assert documents(engine)[server.url(PRESS_RELEASE)].missing_checks == 0
    gone()
    check(config, engine)
    check(config, engine)
    assert [e.kind for e in events_of(engine, server.url(PRESS_RELEASE))] == ["new"]
    check(config, engine)
    assert [e.kind for e in events_of(engine, server.url(PRESS_RELEASE))] == ["new", "removed"]
    assert len(versions_of(engine, server.url(PRESS_RELEASE))) == 1
    assert documents(engine)[server.url(PRESS_RELEASE)].removed_at is not None


def test_rerender_is_nothing_new_links_are_tracked_and_the_silent_edit_is_substantive(server, bis_source):
    url = server.url(PRESS_RELEASE)
    serve_bis(server, version="v1")
    config, engine = bis_source()
    check(config, engine)
    assert [e.kind for e in events_of(engine, url)] == ["new"]

    serve_bis(server, version="v1-rerender")
    result = check(config, engine)
    assert result.new_versions == 0 and len(versions_of(engine, url)) == 1

    # The three guidance PDFs are linked: the press release has a new version for its links alone.
    serve_bis(server, version="v1-guidance-linked")
    check(config, engine)
    assert len(versions_of(engine, url)) == 2
    old, new = content_of(engine, url, 1), content_of(engine, url, 2)
    assert old.text() == new.text()
    assert assess_links(old.links, new.links) == [
        ("substantive", f"linked document added: {server.url(path)}") for path in (GP10, POLICY, DIVERSION)
    ]
    linked = events_of(engine, url)[-1]
    assert linked.kind == "changed" and linked.severity == "substantive"
    assert f"linked document added: {server.url(GP10)}" in linked.reasons
    for path in GUIDANCE_FILES:
        [event] = events_of(engine, server.url(path))
        assert event.kind == "new" and not event.baseline

    serve_bis(server, version="v2-edited")
    check(config, engine)
    last = events_of(engine, url)[-1]
    assert (last.kind, last.severity, last.from_version, last.to_version) == ("changed", "substantive", 2, 3)
    reasons = last.reasons
    assert any("violates" in reason or "Huawei" in reason for reason in reasons)
    assert "anywhere in the world violates" not in content_of(engine, url).text()


@sqlite_only
def test_max_pages_is_respected(server, bis_source):
    serve_bis(server)
    config, engine = bis_source(extra="max_pages = 3")
    result = check(config, engine)
    assert result.status == "ok"
    assert len(fetched_paths(server)) == 3 and len(documents(engine)) == 3
    assert server.url(LISTING) in documents(engine)


@sqlite_only
def test_robots_txt_disallow_is_respected(server, bis_source):
    serve_bis(server)
    server.set("/robots.txt", "User-agent: *\nDisallow: /media/documents/\n", content_type="text/plain")
    config, engine = bis_source()
    result = check(config, engine)
    assert result.status == "ok"
    assert all(server.hits_for(path) == [] for path in GUIDANCE_FILES)
    assert len([f for f in result.failures if "robots.txt" in f]) == 3
    assert server.url(PRESS_RELEASE) in documents(engine)
    assert not any("/media/documents/" in key for key in documents(engine))


@sqlite_only
def test_a_bare_host_allows_its_default_ports_only(server, bis_source):
    serve_bis(server)
    config, engine = bis_source(extra='hosts = ["127.0.0.1"]')  # the loopback server is on another port
    result = check(config, engine)
    assert result.status == "failed"
    assert server.url(LISTING) in result.failures[0] and "not an allowed host" in result.failures[0]
    assert server.hits == []  # not even robots.txt


@sqlite_only
def test_a_malformed_link_is_skipped_alone_and_the_rest_are_followed(server, bis_source, capfd):
    port = server.base_url.rsplit(":", 1)[1]
    after = "/press-release/after-the-bad-links"
    bad = [
        "http://[::1/press-release/broken",
        "http://127.0.0.1:99999/press-release/port",
        "http://127.0.0.1:http/press-release/port",
        "http://127.0.0.1:-1/press-release/\x1b[2Jport",
    ]
    serve_bis(server, listing=listing_with(*bad, after))
    server.set(after, OTHER_RELEASE_PAGE)
    # "127.0.0.1" alone admits any well-formed port-less link; the links above are not well formed.
    config, engine = bis_source(follow="/press-release/", extra=f'hosts = ["127.0.0.1", "127.0.0.1:{port}"]')
    result = check(config, engine)
    assert result.status == "ok"
    assert server.url(after) in documents(engine)  # the link after the bad ones is followed
    assert server.url(PRESS_RELEASE) in documents(engine)
    lines = [line for line in capfd.readouterr().err.splitlines() if "malformed link" in line]
    assert len(lines) == 1 and "4 malformed links" in lines[0] and server.url(LISTING) in lines[0]
    assert "\x1b" not in lines[0]
