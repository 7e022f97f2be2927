"""The warm crawler: one crawl process across checks, replaced when it dies, hangs, grows or is old."""

import os
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from sqlmodel import select

from storage.db import open_database, session_scope
from storage.models import Event, Source, Version
from tests.conftest import FILES, PROJECT_ROOT
from tests.support.smtp import free_port
from tracker.config import load_config
from tracker.crawl import warm as warm_module
from tracker.crawl.warm import SnapshotBatch, WarmCrawler

PAGES = FILES / "pages"
V1 = (PAGES / "guidance_v1.html").read_bytes()
V3 = (PAGES / "guidance_v3_negation.html").read_bytes()
ROBOTS = "User-agent: *\nAllow: /\n"


@pytest.fixture
def warm(server, write_config):
    """A WarmCrawler (options as given) on a `page` source at /page; stopped after the test."""
    crawlers = []

    def make(**options):
        server.set("/robots.txt", ROBOTS, content_type="text/plain")
        path = write_config(f'[[sources]]\nname = "guidance"\nkind = "page"\nurl = "{server.url("/page")}"\n')
        config = load_config(path)
        crawlers.append(WarmCrawler(config, open_database(config.database_url), **options))
        return crawlers[-1]

    yield make
    for crawler in crawlers:
        crawler.stop()


def rows(crawler, model):
    with session_scope(crawler.engine) as session:
        return session.exec(select(model).order_by(model.id)).all()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_checks_share_one_process_and_each_is_polite_on_its_own(server, warm):
    crawler = warm()
    server.set("/page", V1)
    [first] = crawler.check(["guidance"])
    [pid] = crawler.pids()
    [second] = crawler.check(["guidance"])
    server.set("/page", V3)
    [third] = crawler.check(["guidance"])

    assert crawler.pids() == [pid]
    assert (first.status, first.fetched, first.new_versions, first.events) == ("ok", 1, 1, {"new": 1})
    assert (second.status, second.fetched + second.unchanged, second.new_versions) == ("ok", 1, 0)
    assert (third.status, third.new_versions, third.events) == ("ok", 1, {"changed:substantive": 1})
    assert [e.kind for e in rows(crawler, Event)] == ["new", "changed"]
    assert len(rows(crawler, Version)) == 2
    assert len(server.hits_for("/robots.txt")) == 3  # read again by every check, as a fresh process did


def test_snapshots_are_stored_together_once_many_large_or_waiting(monkeypatch, caplog):
    batches: list[int] = []
    monkeypatch.setattr(warm_module, "ingest_reads", lambda engine, outcomes: batches.append(len(outcomes)))
    batch = SnapshotBatch(engine=None)

    def add(size: int = 10) -> None:
        batch.add(SimpleNamespace(snapshot=SimpleNamespace(body=b"x" * size, url="https://example.gov/")))

    for _ in range(warm_module.BATCH_DOCUMENTS):
        add()
    add(warm_module.BATCH_BYTES)
    add()
    batch.since -= warm_module.BATCH_SECONDS  # the first has waited long enough
    add()
    batch.store()  # nothing left
    assert batches == [warm_module.BATCH_DOCUMENTS, 1, 2]

    def broken(engine, outcomes):
        raise RuntimeError("database gone")

    monkeypatch.setattr(warm_module, "ingest_reads", broken)
    add()
    batch.store()  # logged in one line, never raised into the check
    assert batch.pending == [] and "could not be recorded: RuntimeError: database gone" in caplog.text


def test_many_pages_of_one_check_are_all_stored(server, write_config):
    server.set("/robots.txt", ROBOTS, content_type="text/plain")
    names = [f"page-{n}" for n in range(30)]
    for n, name in enumerate(names):
        server.set(f"/{name}", V1.replace(b"</body>", f"<p>Page {n}</p></body>".encode()))
    lines = [f'[[sources]]\nname = "{name}"\nkind = "page"\nurl = "{server.url("/" + name)}"\n' for name in names]
    config = load_config(write_config("\n".join(lines)))
    crawler = WarmCrawler(config, open_database(config.database_url))
    try:
        results = crawler.check(names)
    finally:
        crawler.stop()
    assert [(result.status, result.new_versions) for result in results] == [("ok", 1)] * len(names)
    assert len(rows(crawler, Version)) == len(names)
    assert {source.last_success_at is not None for source in rows(crawler, Source)} == {True}


def mapped_files(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as maps:
        return maps.read()


def test_the_crawl_process_fetches_and_reads_and_the_service_stores(server, warm):
    """The crawl process never loads the database's libraries (issue 12's memory goal): the
    service stores what it read. SQLAlchemy's compiled modules show in a process's maps."""
    assert "/sqlalchemy/" in mapped_files(os.getpid())  # this process, which stores, maps them
    crawler = warm()
    server.set("/page", V1)
    [result] = crawler.check(["guidance"])
    [pid] = crawler.pids()
    assert (result.status, result.new_versions) == ("ok", 1)
    [version] = rows(crawler, Version)
    assert version.reader and version.content_hash  # read there, stored here
    assert "/sqlalchemy/" not in mapped_files(pid)
    assert "/pydantic_core/" not in mapped_files(pid)


def test_a_process_killed_during_a_check_fails_that_check_and_the_next_one_gets_a_new_process(server, warm):
    crawler = warm()
    server.set("/page", V1, delay=10)
    crawler.warm_up()
    [pid] = crawler.pids()
    killer = threading.Thread(target=lambda: wait_until(lambda: server.hits_for("/page")) and os.kill(pid, 9))
    killer.start()
    [result] = crawler.check(["guidance"])
    killer.join()
    assert result.status == "failed" and result.failures == [
        "the crawl process was killed by signal 9 during the check"
    ]
    [source] = rows(crawler, Source)
    assert source.consecutive_failures == 1 and "signal 9" in source.last_error

    server.set("/page", V1)
    [result] = crawler.check(["guidance"])
    assert result.status == "ok" and result.new_versions == 1
    assert crawler.pids() and pid not in crawler.pids()


def test_a_process_that_hangs_is_killed_at_the_timeout(server, warm):
    crawler = warm(timeout=2)
    server.set("/page", V1, delay=30)
    crawler.warm_up()
    [pid] = crawler.pids()
    started = time.monotonic()
    [result] = crawler.check(["guidance"])
    assert time.monotonic() - started < 10
    assert result.status == "failed" and result.failures == ["the crawl did not finish within 2s and was stopped"]
    assert not alive(pid)
    assert rows(crawler, Version) == []


def test_a_process_is_replaced_after_its_checks(server, warm):
    crawler = warm(recycle_after=2)
    server.set("/page", V1)
    crawler.check(["guidance"])
    [first] = crawler.pids()
    crawler.check(["guidance"])
    assert wait_until(lambda: not alive(first) and crawler.pids())  # retired, then its successor started
    [second] = crawler.pids()
    assert second != first
    [result] = crawler.check(["guidance"])
    assert result.status == "ok" and crawler.pids() == [second]


def test_a_standing_by_scheduler_keeps_no_process_and_warms_up_again(server, warm):
    crawler = warm()
    server.set("/page", V1)
    crawler.check(["guidance"])
    [idle] = crawler.pids()
    crawler.cool_down()  # the scheduler lost its lock
    assert not alive(idle) and crawler.pids() == []
    [result] = crawler.check(["guidance"])  # a check still runs, on a process that is not kept
    assert result.status == "ok" and wait_until(lambda: crawler.pids() == [])
    crawler.warm_up()  # the lock is ours again
    assert len(crawler.pids()) == 1


def test_a_process_grown_past_the_memory_limit_is_replaced(server, warm):
    crawler = warm(rss_limit_kb=1)
    server.set("/page", V1)
    crawler.warm_up()
    [first] = crawler.pids()
    [result] = crawler.check(["guidance"])
    assert result.status == "ok"
    assert wait_until(lambda: not alive(first) and crawler.pids())  # retired, then its successor started
    assert first not in crawler.pids() and len(crawler.pids()) == 1


def test_an_edited_config_file_gets_a_process_that_reads_it(server, warm):
    crawler = warm()
    server.set("/page", V1)
    server.set("/other", V3)
    crawler.check(["guidance"])
    [first] = crawler.pids()
    edited = crawler.config.path.read_text().replace(server.url("/page"), server.url("/other"))
    crawler.config.path.write_text(edited)
    os.utime(crawler.config.path, ns=(time.time_ns() + 10**9,) * 2)  # a new stamp even on a coarse clock
    [result] = crawler.check(["guidance"])
    assert first not in crawler.pids()
    assert result.status == "ok" and len(server.hits_for("/other")) == 1


def test_stop_interrupts_the_check_under_way_and_ends_every_process(server, warm):
    crawler = warm()
    server.set("/page", V1, delay=10)
    crawler.warm_up()
    [pid] = crawler.pids()
    outcome = []
    checking = threading.Thread(target=lambda: outcome.extend(crawler.check(["guidance"])))
    checking.start()
    assert wait_until(lambda: server.hits_for("/page"))
    crawler.stop()
    checking.join(10)
    [result] = outcome
    assert result.status == "skipped" and result.message == "interrupted by signal 15 before it finished"
    assert not alive(pid) and crawler.pids() == []
    assert rows(crawler, Source)[0].consecutive_failures == 0
    assert crawler.check(["guidance"])[0].status == "skipped"  # no new process once stopped
    assert crawler.pids() == []


def crawl_children(parent: int) -> list[int]:
    """The warm crawl processes whose parent is `parent`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"tracker.crawl.warm_worker" in cmdline and alive(int(pid)):
            found.append(int(pid))
    return found


def test_the_service_polls_on_one_crawl_process_and_ends_it_when_stopped(server, write_config):
    server.set("/robots.txt", ROBOTS, content_type="text/plain")
    server.set("/page", V1)
    path = write_config(
        f'[web]\nport = {free_port()}\n\n[[sources]]\nname = "guidance"\nkind = "page"\n'
        f'url = "{server.url("/page")}"\ninterval = "1s"\n'
    )
    service = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(path), "run"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: len(server.hits_for("/page")) >= 1, timeout=60)
        [crawl] = crawl_children(service.pid)
        assert wait_until(lambda: len(server.hits_for("/page")) >= 4, timeout=60)
        assert crawl_children(service.pid) == [crawl]  # every poll on the same process
        service.send_signal(signal.SIGTERM)  # the service alone, not its process group
        assert service.wait(30) == 0 or service.returncode == -signal.SIGTERM
        assert wait_until(lambda: not alive(crawl), timeout=10)
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait(10)
