"""The `page` spider against a loopback server: politeness and every kind of bad input.

Each check runs the real crawl (a child process with Scrapy), then the database
is inspected: a failure is recorded on the source and never becomes a version.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import Document, Event, Source, Version
from storage.repository import ensure_source
from tests.conftest import FILES
from tracker.config import load_config
from tracker.crawl.launch import run_check
from tracker.items import FailureReason
from tracker.stored import load_content

PAGE = (FILES / "pages" / "guidance_v1.html").read_bytes()


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


def test_timeout(server, page_source):
    server.set("/page", PAGE, delay=3)
    config, engine = page_source(fetch="delay = 0\ntimeout = 1\nretries = 0")
    result = check(config, engine)
    assert result.status == "failed" and "timed out" in result.failures[0]
    assert state(engine)[1] == []


def test_body_over_the_cap(server, page_source):
    server.set("/page", b"<html><body><main>" + b"<p>word</p>" * 20000 + b"</main></body></html>")
    config, engine = page_source(fetch="delay = 0\ntimeout = 5\nretries = 0\nmax_bytes = 10000")
    result = check(config, engine)
    assert result.status == "failed" and "cap" in result.failures[0]
    assert state(engine)[1] == []


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


def test_non_html_content_is_a_clear_failure(server, page_source):
    server.set("/page", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, content_type="image/png")
    config, engine = page_source()
    result = check(config, engine)
    assert result.status == "failed" and "unsupported content type 'image/png'" in result.failures[0]
    assert state(engine)[1] == []


def test_selector_that_matches_nothing_is_a_failure(server, page_source):
    server.set("/page", PAGE)
    config, engine = page_source(selector="#no-such-region")
    result = check(config, engine)
    assert result.status == "failed" and "#no-such-region" in result.failures[0]
    assert state(engine)[1] == []


def test_redirect_is_followed_and_recorded(server, page_source):
    server.set("/old", b"", status=301, headers={"Location": "/page"})
    server.set("/page", PAGE)
    config, engine = page_source(path="/old")
    assert check(config, engine).status == "ok"
    _, [version], _ = state(engine)
    assert version.url == server.url("/old") and version.final_url == server.url("/page")


def test_unreachable_host(page_source, write_config):
    config = load_config(write_config('[[sources]]\nname = "watched"\nkind = "page"\nurl = "http://127.0.0.1:9/x"\n'))
    engine = open_database(config.database_url)
    result = check(config, engine)
    assert result.status == "failed" and "connection refused" in result.failures[0]
    source, versions, events = state(engine)
    assert source.consecutive_failures == 1 and versions == [] and events == []


# --- redirects and <meta refresh>: only to the page's own host and port ------


def test_a_redirect_to_another_port_is_refused_not_followed(server, other_server, page_source):
    server.set("/old", b"", status=302, headers={"Location": other_server.url("/page")})
    config, engine = page_source(path="/old")
    result = check(config, engine)
    assert result.status == "failed"
    [failure] = result.failures
    assert server.url("/old") in failure and other_server.url("/page") in failure and "not followed" in failure
    assert other_server.hits == []  # not even its robots.txt
    assert state(engine)[1] == []


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
def test_a_redirect_to_another_scheme_is_a_failure_naming_it(server, page_source, location):
    server.set("/old", b"", status=301, headers={"Location": location})
    config, engine = page_source(path="/old")
    result = check(config, engine)
    assert result.status == "failed"
    assert location.split(",")[0] in result.failures[0] and "not followed" in result.failures[0]
    assert state(engine)[1] == []


# --- Retry-After: honoured, held to [fetch] retry_after_max ----------------------


@pytest.mark.parametrize("value", ["Fri, 31 Dec 9999 23:59:59 GMT", "9" * 20, "1" + "0" * 5000])
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


def test_retry_after_max_is_the_configured_one(server, page_source):
    server.set("/page", "busy", status=429, content_type="text/plain", headers={"Retry-After": "86400"})
    config, engine = page_source(fetch='delay = 0\nretries = 0\nretry_after_max = "2h"')
    check(config, engine)
    source, _, _ = state(engine)
    assert source.retry_after <= utcnow() + timedelta(hours=2) and "Retry-After held to 2h" in source.last_error


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "\u00b2", "Mon, 99 Foo 2026 25:61:61 GMT", ""])
def test_an_unreadable_retry_after_is_a_plain_failure(server, page_source, value):
    server.set("/page", "busy", status=503, content_type="text/plain", headers={"Retry-After": value})
    config, engine = page_source()
    result = check(config, engine)
    assert result.failures == [f"HTTP 503 from {server.url('/page')}"]
    assert state(engine)[0].retry_after is None


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
