"""Faults: after each, nothing lost, nothing duplicated, and the next pass catches up."""

import os
import signal
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import AdminNotice, Delivery, Event, Version
from tests.conftest import FILES
from tests.support.smtp import SmtpSink
from tracker.alerts.claims import retry_delay
from tracker.alerts.sender import Sender
from tracker.alerts.subscribers import sync_subscribers
from tracker.config import load_config
from tracker.crawl.launch import run_check

PAGES = FILES / "pages"
V1 = (PAGES / "guidance_v1.html").read_bytes()
V3 = (PAGES / "guidance_v3_negation.html").read_bytes()


@pytest.fixture
def watched(server, write_config):
    def make(extra: str = ""):
        config = load_config(
            write_config(f"""
            [[sources]]
            name = "guidance"
            kind = "page"
            url = "{server.url("/page")}"
            selector = "main"
            {extra}
        """)
        )
        engine = open_database(config.database_url)
        with session_scope(engine) as session:
            sync_subscribers(session, config.subscribers)
        return config, engine

    return make


def rows(engine, model):
    with session_scope(engine) as session:
        return session.exec(select(model).order_by(model.id)).all()


def test_a_source_flapping_between_200_and_500(server, watched):
    config, engine = watched('\n[[admins]]\nemail = "ops@example.com"\n')
    for n in range(6):
        if n % 2:
            server.set("/page", "oops", status=500, content_type="text/plain")
        else:
            server.set("/page", V1)
        run_check(config, engine, ["guidance"])
    assert len(rows(engine, Version)) == 1
    assert [e.kind for e in rows(engine, Event)] == ["new"]
    assert rows(engine, AdminNotice) == []  # never three failures in a row


def test_sigkill_of_the_crawl_then_the_next_pass_catches_up(server, watched):
    config, engine = watched()
    server.set("/page", V1, delay=4)
    killer = threading.Thread(target=_kill_crawl_when_started, args=(server,))
    killer.start()
    [result] = run_check(config, engine, ["guidance"])
    killer.join()
    assert result.status == "skipped" and "signal 9" in result.message
    assert rows(engine, Version) == [] and rows(engine, Event) == []
    server.set("/page", V1)
    [result] = run_check(config, engine, ["guidance"])
    assert result.status == "ok" and len(rows(engine, Version)) == 1


def _kill_crawl_when_started(server, hits_before: int = 0, delay: float = 0.0):
    """SIGKILL this test's crawl process `delay` seconds after its request for /page arrives."""
    deadline = time.monotonic() + 20
    while len(server.hits_for("/page")) <= hits_before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    for pid in os.listdir("/proc"):  # only this test's own crawl: a child of this process
        if pid.isdigit():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
                parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"tracker.crawl.worker" in cmdline and parent == os.getpid():
                os.kill(int(pid), signal.SIGKILL)


def test_sqlite_locked_for_a_moment(server, watched, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite lock")
    config, engine = watched()
    server.set("/page", V1)
    blocker = sqlite3.connect(database_url.removeprefix("sqlite:///"), check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    threading.Timer(2.0, blocker.rollback).start()
    [result] = run_check(config, engine, ["guidance"])
    assert result.status == "ok" and len(rows(engine, Version)) == 1
    blocker.close()


def test_smtp_down_for_an_hour_of_simulated_time(server, watched):
    smtp = SmtpSink().start()
    try:
        config, engine = watched('\n[[subscribers]]\nemail = "legal@example.com"\n')
        config = load_config(config.path)
        object.__setattr__(config.mail, "smtp_port", smtp.port)
        server.set("/page", V1)
        run_check(config, engine, ["guidance"])
        server.set("/page", V3)
        run_check(config, engine, ["guidance"])
        smtp.reply = lambda attempt, rcpt: "421 4.3.2 service not available"
        start = utcnow()
        attempts, due = 0, start  # the retry policy played alongside: a drain sends what is due
        for minute in range(0, 61, 5):
            now = start + timedelta(minutes=minute)
            Sender(config, engine).drain(now)
            if due <= now:
                attempts += 1
                due = now + retry_delay(attempts)
        # Tried at 0, 5, 10, 15, 20, 30 and 50 minutes; the seventh failure waits 32 minutes.
        assert (attempts, due) == (7, start + timedelta(minutes=82))
        [delivery] = rows(engine, Delivery)
        assert delivery.status == "pending" and delivery.attempts == attempts  # backing off, not given up
        assert delivery.next_attempt_at == due
        smtp.reply = lambda attempt, rcpt: "250 OK"
        Sender(config, engine).drain(start + timedelta(hours=2))
        Sender(config, engine).drain(start + timedelta(hours=3))
        assert len(smtp.messages) == 1 and rows(engine, Delivery)[0].status == "sent"
    finally:
        smtp.stop()


def _long_page(variant: str) -> bytes:
    """A guidance page with 3,000 paragraphs, so that ingesting a change takes a while."""
    paragraphs = "".join(f"<p>Paragraph {n}: exporters shall keep record {n} for five years.</p>" for n in range(3000))
    return f"<html><body><main><h1>Guidance</h1><p>{variant}</p>{paragraphs}</main></body></html>".encode()


@pytest.mark.parametrize("delay", [0.2, 0.5, 0.9])
def test_sigkill_during_ingestion_stores_all_of_a_change_or_none_of_it(server, watched, delay):
    config, engine = watched('\n[[subscribers]]\nemail = "legal@example.com"\n')
    server.set("/page", _long_page("Licences are required."))
    run_check(config, engine, ["guidance"])
    server.set("/page", _long_page("Licences are not required."))

    killer = threading.Thread(target=_kill_crawl_when_started, args=(server, 1, delay))
    killer.start()
    run_check(config, engine, ["guidance"])  # killed somewhere between fetch, ingest and finish
    killer.join()

    # All or nothing: a second version only ever comes with its event and its delivery.
    versions, events, deliveries = rows(engine, Version), rows(engine, Event), rows(engine, Delivery)
    assert len(versions) in (1, 2)
    assert [e.kind for e in events] == ["new", "changed"][: len(versions)]
    assert len(deliveries) == len(versions) - 1

    [result] = run_check(config, engine, ["guidance"])  # the next pass catches up
    assert result.status == "ok"
    assert len(rows(engine, Version)) == 2
    assert [e.kind for e in rows(engine, Event)] == ["new", "changed"]
    assert len(rows(engine, Delivery)) == 1
