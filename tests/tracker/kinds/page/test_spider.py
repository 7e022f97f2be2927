"""The `page` spider: its callback on saved answers in process, then real crawls on loopback.

The first tests call the spider's own requests and callback on saved pages (no server, in
the fast tier). The crawls after them run the real crawl (a child process with Scrapy) for
politeness and bad input, then inspect the database: a failure is recorded on the source
and never becomes a version.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import Document, Event, Source, Version
from storage.repository import ensure_source
from tests.conftest import FILES, sqlite_only
from tests.support.crawls import run_check
from tests.support.responses import answer, start_requests
from tracker.config import load_config
from tracker.items import FailureReason, FetchFailed, NotModified, Snapshot
from tracker.kinds import KINDS
from tracker.kinds.page.config import PageConfig
from tracker.kinds.page.spider import PageSpider
from tracker.reading.errors import ContentError
from tracker.stored import load_content

PAGE = (FILES / "pages" / "guidance_v1.html").read_bytes()
GUIDANCE = "https://www.bis.gov/guidance/advanced-computing"
VALIDATORS = {GUIDANCE: {"etag": '"v1"', "last_modified": "Tue, 13 May 2025 14:00:00 GMT"}}


# --- in process: the spider's request and callback on saved answers -----------------------


def page_spider(selector: str = "main", validators: dict | None = None) -> tuple[PageSpider, PageConfig]:
    source = PageConfig(name="guidance", kind="page", interval=3600, url=GUIDANCE, selector=selector)
    return PageSpider(sources=[(source, validators or {}, None)]), source


def test_the_start_request_is_conditional_on_the_stored_validators():
    spider, _ = page_spider(validators=VALIDATORS)
    [request] = start_requests(spider)
    assert request.url == GUIDANCE
    assert request.headers["If-None-Match"] == b'"v1"'
    assert request.headers["If-Modified-Since"] == b"Tue, 13 May 2025 14:00:00 GMT"
    assert (request.meta["rulewatch_source"], request.meta["rulewatch_key"]) == ("guidance", GUIDANCE)
    spider, _ = page_spider()
    [request] = start_requests(spider)
    assert "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers


def test_a_saved_page_is_a_snapshot_that_reads_as_its_main_content():
    spider, source = page_spider()
    [request] = start_requests(spider)
    [snapshot] = spider.parse(answer(request, PAGE, headers={"Content-Type": "text/html", "X-Served-By": "saved"}))
    assert isinstance(snapshot, Snapshot)
    assert (snapshot.source, snapshot.key, snapshot.url, snapshot.final_url) == (
        "guidance",
        GUIDANCE,
        GUIDANCE,
        GUIDANCE,
    )
    assert snapshot.body == PAGE and snapshot.headers["X-Served-By"] == "saved"
    content = KINDS["page"].read(snapshot, source)
    assert content.title == "Guidance on Advanced Computing Integrated Circuits | Bureau of Industry and Security"
    text = content.text()
    assert "(2) Exporters shall obtain a license before any transfer" in text
    assert "Skip to main content" not in text and "Constitution Ave" not in text and "dataLayer" not in text


def test_a_redirected_page_keeps_the_url_asked_for_as_its_key():
    spider, _ = page_spider()
    [request] = start_requests(spider)
    moved = "https://www.bis.gov/guidance/advanced-computing-2025"
    redirected = request.replace(url=moved, meta={**request.meta, "redirect_urls": [GUIDANCE]})
    [snapshot] = spider.parse(answer(redirected, PAGE))
    assert (snapshot.key, snapshot.url, snapshot.final_url) == (GUIDANCE, GUIDANCE, moved)


def test_a_304_is_not_modified():
    spider, _ = page_spider(validators=VALIDATORS)
    [request] = start_requests(spider)
    [outcome] = spider.parse(answer(request, b"", status=304, headers={}))
    assert isinstance(outcome, NotModified) and (outcome.key, outcome.url) == (GUIDANCE, GUIDANCE)


@pytest.mark.parametrize("status, gone", [(404, True), (410, True), (500, False), (503, False)])
def test_an_error_status_is_a_failure_naming_it(status, gone):
    spider, _ = page_spider()
    [request] = start_requests(spider)
    [failure] = spider.parse(answer(request, b"<html><body><main>Error page</main></body></html>", status=status))
    assert isinstance(failure, FetchFailed)
    assert failure.error == f"HTTP {status} from {GUIDANCE}"
    assert (failure.status, failure.gone, failure.retry_after) == (status, gone, None)


def test_a_retry_after_in_seconds_is_a_time_to_wait_until():
    spider, _ = page_spider()
    [request] = start_requests(spider)
    [failure] = spider.parse(answer(request, b"busy", status=503, headers={"Retry-After": "3600"}))
    wait = failure.retry_after - failure.fetched_at
    assert timedelta(minutes=59) < wait <= timedelta(hours=1, seconds=1)


def test_a_selector_that_matches_nothing_does_not_read():
    spider, source = page_spider(selector="#no-such-element")
    [request] = start_requests(spider)
    [snapshot] = spider.parse(answer(request, PAGE))
    with pytest.raises(ContentError, match="'#no-such-element' matched nothing"):
        KINDS["page"].read(snapshot, source)


# --- loopback crawls ------------------------------------------------------------------------


@pytest.fixture
def page_source(server, write_config):
    def make(path="/page", selector="main", fetch=None, extra=""):
        options = {"fetch": fetch} if fetch else {}
        config = load_config(
            write_config(
                f"""
                [[sources]]
                name = "watched"
                kind = "page"
                url = "{server.url(path)}"
                {f'selector = "{selector}"' if selector else ""}
                {extra}
                """,
                **options,
            )
        )
        engine = open_database(config.database_url)
        return config, engine

    return make


def check(config, engine):
    [result] = run_check(config, engine, ["watched"])
    return result


def state(engine):
    with session_scope(engine) as session:
        source = session.exec(select(Source)).one()
        versions = session.exec(select(Version)).all()
        events = session.exec(select(Event)).all()
        return source, versions, events


def test_a_page_becomes_a_version_with_its_evidence(server, page_source):
    server.set("/page", PAGE, headers={"X-Served-By": "fixture"})
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "ok" and result.new_versions == 1
    source, [version], [event] = state(engine)
    assert source.baseline_at is not None and source.consecutive_failures == 0
    assert version.status == 200 and version.final_url == server.url("/page")
    assert version.headers["X-Served-By"] == "fixture"
    assert event.kind == "new" and event.baseline
    hit = server.hits_for("/page")[0]
    assert hit.headers["User-Agent"].startswith("Rulewatch/")
    with session_scope(engine) as session:
        content = load_content(session, version)
    text = content.text()
    assert "shall obtain a license" in text
    assert "Skip to main content" not in text and "Constitution Ave" not in text and "dataLayer" not in text


def test_conditional_requests_and_304(server, page_source):
    server.set("/page", PAGE, etag='"abc"', last_modified="Tue, 13 May 2025 14:00:00 GMT")
    config, engine = page_source()
    check(config, engine)
    result = check(config, engine)
    assert result.unchanged == 1 and result.status == "ok"
    second = server.hits_for("/page")[1]
    assert second.headers["If-None-Match"] == '"abc"'
    assert second.headers["If-Modified-Since"] == "Tue, 13 May 2025 14:00:00 GMT"
    _, versions, events = state(engine)
    assert len(versions) == 1 and len(events) == 1


@sqlite_only
def test_robots_txt_is_obeyed(server, page_source):
    server.set("/robots.txt", "User-agent: *\nDisallow: /page\n", content_type="text/plain")
    server.set("/page", PAGE)
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "failed"
    assert "robots.txt" in result.failures[0]
    assert server.hits_for("/page") == []
    source, versions, _ = state(engine)
    assert versions == [] and "robots.txt" in source.last_error
    assert source.last_failure_reason == FailureReason.ROBOTS


@pytest.mark.parametrize("status", [404, 500, 503])
@sqlite_only
def test_http_errors_are_recorded_failures_not_versions(server, page_source, status):
    server.set("/page", "<html><body><main>Error page</main></body></html>", status=status)
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "failed" and f"HTTP {status}" in result.failures[0]
    source, versions, events = state(engine)
    assert versions == [] and events == []
    assert source.consecutive_failures == 1 and source.last_status == status
    assert source.last_failure_reason == FailureReason.HTTP_STATUS
    assert source.baseline_at is None  # a failed first check is not the baseline


@sqlite_only
def test_retry_after_is_honoured(server, page_source):
    server.set("/page", "busy", status=503, content_type="text/plain", headers={"Retry-After": "3600"})
    config, engine = page_source()
    check(config, engine)
    result = check(config, engine)
    assert result.status == "skipped" and "Retry-After" in result.message
    assert len(server.hits_for("/page")) == 1


def test_gone_becomes_removed_only_after_consecutive_checks(server, page_source):
    server.set("/page", PAGE)
    config, engine = page_source()
    check(config, engine)
    server.set("/page", "gone", status=404, content_type="text/plain")
    check(config, engine)
    server.set("/page", PAGE)
    check(config, engine)  # back again: the count starts over
    server.set("/page", "gone", status=410, content_type="text/plain")
    for _ in range(2):
        check(config, engine)
    assert [e.kind for e in state(engine)[2]] == ["new"]
    check(config, engine)
    _, versions, events = state(engine)
    assert [e.kind for e in events] == ["new", "removed"]
    assert len(versions) == 1
    with session_scope(engine) as session:
        assert session.exec(select(Document)).one().removed_at is not None


@sqlite_only
def test_timeout(server, page_source):
    server.set("/page", PAGE, delay=3)
    config, engine = page_source(fetch="delay = 0\ntimeout = 1\nretries = 0")
    result = check(config, engine)
    assert result.status == "failed" and "timed out" in result.failures[0]
    assert state(engine)[1] == []


@sqlite_only
def test_body_over_the_cap(server, page_source):
    server.set("/page", b"<html><body><main>" + b"<p>word</p>" * 20000 + b"</main></body></html>")
    config, engine = page_source(fetch="delay = 0\ntimeout = 5\nretries = 0\nmax_bytes = 10000")
    result = check(config, engine)
    assert result.status == "failed" and "cap" in result.failures[0]
    assert state(engine)[1] == []


@sqlite_only
def test_truncated_body(server, page_source):
    server.set("/page", PAGE, truncate_to=200)
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "failed" and "broken off" in result.failures[0]
    assert state(engine)[1] == []


def test_invalid_utf8_is_replaced_not_fatal_and_raw_bytes_kept(server, page_source):
    body = "<html><body><main><p>Export controls apply to items \u00a7 744.23.</p></main></body></html>".encode()
    body = body.replace(b"items", b"it\xff\xfems")
    server.set("/page", body)
    config, engine = page_source()
    assert check(config, engine).status == "ok"
    _, [version], _ = state(engine)
    with session_scope(engine) as session:
        from storage.blobs import get_blob

        assert get_blob(session, version.sha256) == body
        assert "Export controls apply to" in load_content(session, version).text()


def test_wrong_charset_header_falls_back_to_detection(server, page_source):
    text = "<html><body><main><p>Die Ausfuhrkontrollen gelten für Güter, die in Übersee hergestellt wurden.</p></main></body></html>"
    server.set("/page", text.encode("latin-1"), content_type="text/html; charset=utf-8")
    config, engine = page_source()
    assert check(config, engine).status == "ok"
    _, [version], _ = state(engine)
    with session_scope(engine) as session:
        assert "für Güter" in load_content(session, version).text()


@sqlite_only
def test_non_html_content_is_a_clear_failure(server, page_source):
    server.set("/page", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, content_type="image/png")
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "failed" and "unsupported content type 'image/png'" in result.failures[0]
    assert state(engine)[1] == []


@sqlite_only
def test_selector_that_matches_nothing_is_a_failure(server, page_source):
    server.set("/page", PAGE)
    config, engine = page_source(selector="#no-such-region")
    result = check(config, engine)
    assert result.status == "failed" and "#no-such-region" in result.failures[0]
    assert state(engine)[1] == []


@sqlite_only
def test_redirect_is_followed_and_recorded(server, page_source):
    server.set("/old", b"", status=301, headers={"Location": "/page"})
    server.set("/page", PAGE)
    config, engine = page_source(path="/old")
    assert check(config, engine).status == "ok"
    _, [version], _ = state(engine)
    assert version.url == server.url("/old") and version.final_url == server.url("/page")


@sqlite_only
def test_unreachable_host(page_source, write_config):
    config = load_config(write_config('[[sources]]\nname = "watched"\nkind = "page"\nurl = "http://127.0.0.1:9/x"\n'))
    engine = open_database(config.database_url)
    result = check(config, engine)
    assert result.status == "failed" and "connection refused" in result.failures[0]
    source, versions, events = state(engine)
    assert source.consecutive_failures == 1 and versions == [] and events == []


# --- redirects and <meta refresh>: only to the page's own host and port ------


@sqlite_only
def test_a_redirect_to_another_port_is_refused_not_followed(server, other_server, page_source):
    server.set("/old", b"", status=302, headers={"Location": other_server.url("/page")})
    config, engine = page_source(path="/old")
    result = check(config, engine)
    assert result.status == "failed"
    [failure] = result.failures
    assert server.url("/old") in failure and other_server.url("/page") in failure and "not followed" in failure
    assert other_server.hits == []  # not even its robots.txt
    assert state(engine)[1] == []


@sqlite_only
def test_a_meta_refresh_is_followed_on_the_same_host_only(server, other_server, page_source):
    refresh = '<html><head><meta http-equiv="refresh" content="0; url={}"></head><body>Moved.</body></html>'
    server.set("/moved", refresh.format("/page"))
    server.set("/page", PAGE)
    server.set("/away", refresh.format(other_server.url("/page")))
    config, engine = page_source(path="/moved")
    assert check(config, engine).status == "ok"
    _, [version], _ = state(engine)
    assert version.final_url == server.url("/page")

    config, engine = page_source(path="/away")
    result = check(config, engine)
    assert result.status == "failed" and other_server.url("/page") in result.failures[0]
    assert "meta refresh" in result.failures[0]
    assert other_server.hits == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:text/html,<main>hi</main>"])
@sqlite_only
def test_a_redirect_to_another_scheme_is_a_failure_naming_it(server, page_source, location):
    server.set("/old", b"", status=301, headers={"Location": location})
    config, engine = page_source(path="/old")
    result = check(config, engine)
    assert result.status == "failed"
    assert location.split(",")[0] in result.failures[0] and "not followed" in result.failures[0]
    assert state(engine)[1] == []


# --- Retry-After: honoured, held to [fetch] retry_after_max ----------------------


@pytest.mark.parametrize("value", ["Fri, 31 Dec 9999 23:59:59 GMT", "9" * 20, "1" + "0" * 5000])
@sqlite_only
def test_a_retry_after_beyond_the_cap_is_held_to_it_and_said(server, page_source, value):
    server.set("/page", "busy", status=503, content_type="text/plain", headers={"Retry-After": value})
    config, engine = page_source()
    before = utcnow()
    result = check(config, engine)
    assert result.status == "failed"
    source, _versions, _ = state(engine)
    assert before + timedelta(hours=23) < source.retry_after <= utcnow() + timedelta(hours=24)
    assert "Retry-After held to 24h" in source.last_error and "9999-12-31" in source.last_error
    assert "Retry-After held to 24h" in result.failures[0]
    assert check(config, engine).status == "skipped" and len(server.hits_for("/page")) == 1


@sqlite_only
def test_retry_after_max_is_the_configured_one(server, page_source):
    server.set("/page", "busy", status=429, content_type="text/plain", headers={"Retry-After": "86400"})
    config, engine = page_source(fetch='delay = 0\nretries = 0\nretry_after_max = "2h"')
    check(config, engine)
    source, _, _ = state(engine)
    assert source.retry_after <= utcnow() + timedelta(hours=2) and "Retry-After held to 2h" in source.last_error


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "\u00b2", "Mon, 99 Foo 2026 25:61:61 GMT", ""])
@sqlite_only
def test_an_unreadable_retry_after_is_a_plain_failure(server, page_source, value):
    server.set("/page", "busy", status=503, content_type="text/plain", headers={"Retry-After": value})
    config, engine = page_source()
    result = check(config, engine)
    assert result.failures == [f"HTTP 503 from {server.url('/page')}"]
    assert state(engine)[0].retry_after is None


@sqlite_only
def test_a_source_held_by_a_far_retry_after_of_old_is_checked_after_the_cap(server, page_source):
    server.set("/page", PAGE)
    config, engine = page_source()
    with session_scope(engine) as session:  # as versions before the cap stored it
        source = ensure_source(session, "watched", "page")
        source.retry_after = datetime(9999, 12, 31, tzinfo=UTC)
        source.last_checked_at = utcnow() - timedelta(hours=25)
    assert check(config, engine).status == "ok"


# --- the crawl process's log: fetched text never forges a line ------------------

HOSTILE_ENCODING = "x\x1b[2J\x1b]0;owned\x07\x1b[1A"  # clear screen, window title, cursor up


@sqlite_only
def test_fetched_text_in_scrapy_log_lines_is_escaped(server, page_source, capfd):
    # Scrapy warns about an unknown Content-Encoding, quoting the server's header as it came.
    server.set("/page", PAGE, headers={"Content-Encoding": HOSTILE_ENCODING})
    config, engine = page_source()
    check(config, engine)
    err = capfd.readouterr().err
    assert "cannot decode the response" in err  # the line is there, escaped
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b[2j\\x1b]0;owned\\x07" in err


# --- a malformed <meta refresh> target is ignored, as a browser ignores it -----------


@pytest.mark.parametrize("target", ["http://[bad", "http://[::1/x", "http://127.0.0.1:99999/x", "https://host:port/"])
@sqlite_only
def test_a_malformed_meta_refresh_target_is_ignored_and_the_page_kept(server, page_source, target):
    refresh = f'<meta http-equiv="refresh" content="0; url={target}">'.encode()
    server.set("/page", PAGE.replace(b"<head>", b"<head>" + refresh, 1))
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "ok" and result.failures == [], result.failures
    _, [version], _ = state(engine)
    assert version.final_url == server.url("/page")
    with session_scope(engine) as session:
        assert "shall obtain a license" in load_content(session, version).text()
