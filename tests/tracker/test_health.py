"""Source health: admins hear once when a source keeps failing, and once when it recovers."""

from datetime import timedelta

from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import AdminNotice, Source
from tests.support.smtp import SmtpSink
from tracker.alerts.sender import Sender
from tracker.config import load_config
from tracker.crawl.launch import run_check
from tracker.health import is_stale


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
