"""Source health: admins hear once when a source keeps failing, and once when it recovers."""

from datetime import timedelta

from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import AdminNotice, Source
from storage.repository import ensure_source
from tests.support.crawls import run_check
from tests.support.smtp import SmtpSink
from tracker.alerts.sender import Sender
from tracker.config import load_config
from tracker.health import FAILING_AFTER, failure_reason, is_failing, is_stale, report_health
from tracker.items import FailureReason
from tracker.web.queries import source_health


def test_admins_hear_once_on_failure_and_once_on_recovery(server, write_config):
    smtp = SmtpSink().start()
    try:
        config = load_config(
            write_config(f"""
            [mail]
            smtp_host = "127.0.0.1"
            smtp_port = {smtp.port}

            [[admins]]
            email = "ops@example.com"

            [[sources]]
            name = "guidance"
            kind = "page"
            url = "{server.url("/page")}"
        """)
        )
        engine = open_database(config.database_url)
        server.set("/page", "down", status=500, content_type="text/plain")
        for _ in range(4):
            run_check(config, engine, ["guidance"])
            Sender(config, engine).drain()
        assert [m["Subject"] for m in smtp.messages] == ["[Rulewatch] Source failing: guidance"]
        assert "HTTP 500" in smtp.messages[0].get_content()

        server.set("/page", "<html><body><main><p>Back.</p></main></body></html>")
        run_check(config, engine, ["guidance"])
        run_check(config, engine, ["guidance"])
        Sender(config, engine).drain()
        assert [m["Subject"] for m in smtp.messages][1:] == ["[Rulewatch] Source recovered: guidance"]
        with session_scope(engine) as session:
            assert all(n.status == "sent" for n in session.exec(select(AdminNotice)))
    finally:
        smtp.stop()


def test_a_selector_that_stops_matching_alerts_at_once(server, write_config):
    config = load_config(
        write_config(f"""
        [[admins]]
        email = "ops@example.com"

        [[sources]]
        name = "guidance"
        kind = "page"
        url = "{server.url("/page")}"
        selector = "#content"
    """)
    )
    engine = open_database(config.database_url)
    server.set("/page", "<html><body><main><p>Redesigned.</p></main></body></html>")
    run_check(config, engine, ["guidance"])
    with session_scope(engine) as session:
        [notice] = session.exec(select(AdminNotice)).all()
        assert notice.subject == "[Rulewatch] Source failing: guidance" and "#content" in notice.body
        source = session.exec(select(Source)).one()
        assert source.last_failure_reason == FailureReason.SELECTOR_GONE and source.consecutive_failures == 1


def test_stale_after_three_intervals_without_success(write_config):
    config = load_config(
        write_config('[[sources]]\nname = "s"\nkind = "page"\nurl = "http://127.0.0.1:9/"\ninterval = "1h"\n')
    )
    now = utcnow()
    fresh = Source(name="s", kind="page", last_success_at=now - timedelta(hours=2), last_checked_at=now)
    old = Source(name="s", kind="page", last_success_at=now - timedelta(hours=4), last_checked_at=now)
    never = Source(name="s", kind="page", last_checked_at=now)
    source = config.source("s")
    assert not is_stale(fresh, source, now) and is_stale(old, source, now) and is_stale(never, source, now)


def test_admins_hear_at_once_when_a_retry_after_is_held_to_the_cap(server, write_config):
    config = load_config(
        write_config(f"""
        [[admins]]
        email = "ops@example.com"

        [[sources]]
        name = "guidance"
        kind = "page"
        url = "{server.url("/page")}"
    """)
    )
    engine = open_database(config.database_url)
    server.set(
        "/page", "busy", status=503, content_type="text/plain", headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}
    )
    run_check(config, engine, ["guidance"])
    with session_scope(engine) as session:
        [notice] = session.exec(select(AdminNotice)).all()
        assert notice.subject == "[Rulewatch] Source failing: guidance"
        assert "Retry-After held to 24h" in notice.body and "9999-12-31" in notice.body
        assert session.exec(select(Source)).one().last_failure_reason == FailureReason.RETRY_AFTER_HELD


def failed(failures: int, reason: str | None, error: str = "HTTP 500") -> Source:
    return Source(name="s", kind="page", consecutive_failures=failures, last_error=error, last_failure_reason=reason)


def test_failing_after_three_failures_in_a_row_whatever_their_reason():
    assert not is_failing(failed(2, "http_status"))
    assert is_failing(failed(FAILING_AFTER, "http_status")) and is_failing(failed(FAILING_AFTER, None))


def test_failing_at_once_is_decided_by_the_reason_not_the_words():
    assert is_failing(failed(1, "selector_gone", "CSS selector '#content' matched nothing on the page"))
    assert is_failing(failed(1, "retry_after_held", "HTTP 503; Retry-After held to 24h: …"))
    # The old substring tests' words, from other reasons, do not count.
    assert not is_failing(failed(1, "http_status", "HTTP 500: the search matched nothing"))
    assert not is_failing(failed(1, "network", "proxy says: Retry-After held to 1h"))
    # An error recorded before reasons were (the 0011 migration leaves it null) waits for its checks.
    assert not is_failing(failed(1, None, "CSS selector '#content' matched nothing on the page"))
    assert failure_reason(failed(1, "a_reason_from_a_newer_release")) is None


def test_the_dashboard_says_failing_exactly_when_admins_are_told(write_config):
    config = load_config(
        write_config('[[sources]]\nname = "s"\nkind = "page"\nurl = "http://127.0.0.1:9/"\ninterval = "1h"\n')
    )
    engine = open_database(config.database_url)
    now = utcnow()
    for failures, reason in [(1, "http_status"), (2, "network"), (3, "http_status"), (1, "selector_gone"), (0, None)]:
        with session_scope(engine) as session:
            source = ensure_source(session, "s", "page")
            source.last_checked_at = source.last_success_at = now
            source.consecutive_failures, source.last_failure_reason = failures, reason
            source.last_error = reason and "an error"
            report_health(session, config, source)
            told = source.health_alerted
            [row] = source_health(session, config)
        assert (row["status"] == "failing") == told == is_failing(source), (failures, reason)
        assert row["status"] == ("failing" if told else "retrying" if failures else "ok")
