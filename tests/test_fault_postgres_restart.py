"""Fault: the PostgreSQL server restarted (crashed mid-check, then came back).

After it: nothing lost, nothing duplicated, the next pass catches up, and a
long-running process recovers without being restarted itself.

The shared server at 127.0.0.1:5432 is never touched: each test starts a private
PostgreSQL of its own (as the `postgres` user when run as root, which PostgreSQL
refuses to run as) on a free loopback port, and crashes and restarts that one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from storage.db import open_database, session_scope
from storage.models import Delivery, Event, Source, Version
from tests.conftest import FILES
from tests.support.smtp import free_port
from tracker.alerts.sender import Sender
from tracker.alerts.subscribers import sync_subscribers
from tracker.config import load_config
from tracker.crawl.launch import run_check
from tracker.demo.server import Reply
from tracker.service.lock import SchedulerLock
from tracker.service.scheduler import Service

PAGES = FILES / "pages"
V1 = (PAGES / "guidance_v1.html").read_bytes()
V3 = (PAGES / "guidance_v3_negation.html").read_bytes()
WAIT = 60  # seconds: the most any wait below may take before the test fails


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temp dir: trust auth, loopback only, socket inside the dir."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.user = None
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("running as root and `runuser` is missing: cannot run PostgreSQL as another user")
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        self.root = Path(tempfile.mkdtemp(prefix="rulewatch-pg-"))
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self) -> None:
        # fsync=off: a crash of the server (not of the machine) loses nothing either way, and
        # recovery's checkpoint no longer waits for the disk.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c fsync=off"
        self._run(
            "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "-t", str(WAIT), "start"
        )

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: every backend killed, no checkpoint; recovery runs on the next start."""
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", str(WAIT), "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                self._command("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"),
                cwd=self.root,
                capture_output=True,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def _command(self, program: str, *args) -> list[str]:
        command = [str(Path(self.bin) / program), *map(str, args)]
        return ["runuser", "-u", "postgres", "--", *command] if self.user is not None else command

    def _run(self, program: str, *args) -> None:
        done = subprocess.run(self._command(program, *args), cwd=self.root, capture_output=True, text=True)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")


def _postgres_bin() -> str:
    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if all(os.access(Path(candidate) / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return candidate
    pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl, postgres) under /usr/lib/postgresql/*/bin")


@pytest.fixture
def postgres():
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def database_url(postgres) -> str:
    """Overrides conftest's: `write_config` writes configs for the private server."""
    return postgres.url


@pytest.fixture
def watched(server, write_config, smtp):
    """One page source and one immediate-mail subscriber; the Engine is the one kept across the restart."""

    def make(interval: str = "30m"):
        config = load_config(
            write_config(f"""
            [mail]
            smtp_host = "127.0.0.1"
            smtp_port = {smtp.port}

            [[sources]]
            name = "guidance"
            kind = "page"
            url = "{server.url("/page")}"
            selector = "main"
            interval = "{interval}"

            [[subscribers]]
            email = "legal@example.com"
        """)
        )
        engine = open_database(config.database_url)
        with session_scope(engine) as session:
            sync_subscribers(session, config.subscribers)
        return config, engine

    return make


class HeldReply(Reply):
    """A reply the loopback server sends only once released: holds a check mid-fetch,
    after the crawl has read the database and before it writes what it fetched."""

    def __init__(self, body: bytes):
        self.released = threading.Event()
        super().__init__(body=body)

    @property
    def delay(self) -> float:  # read by the server's handler just before it answers
        self.released.wait(WAIT)
        return 0.0

    @delay.setter
    def delay(self, _value: float) -> None:
        pass


def rows(engine, model):
    with session_scope(engine) as session:
        return session.exec(select(model).order_by(model.id)).all()


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def crash_during_the_next_fetch(server, postgres) -> None:
    """Hold the page's next fetch, crash PostgreSQL while it is held, then let the fetch finish."""
    reply = HeldReply(V3)
    hits = len(server.hits_for("/page"))
    server.routes["/page"] = reply
    wait_until(lambda: len(server.hits_for("/page")) > hits, "the check to fetch the page")
    postgres.crash()
    reply.released.set()


def test_postgresql_restarted_during_a_check_then_the_next_pass_catches_up(server, watched, postgres, smtp):
    config, engine = watched()  # one Engine, with its pooled connections, for the whole test
    server.set("/page", V1)
    [result] = run_check(config, engine, ["guidance"])
    assert result.status == "ok" and result.new_versions == 1
    Sender(config, engine).drain()
    assert smtp.messages == []  # the baseline alerts no one

    outcome: list = []

    def check() -> None:
        try:
            outcome.append(run_check(config, engine, ["guidance"]))
        except Exception as exc:
            outcome.append(exc)

    checking = threading.Thread(target=check)
    checking.start()
    crash_during_the_next_fetch(server, postgres)
    checking.join(WAIT)
    assert not checking.is_alive()
    [failed] = outcome
    # With the database gone, the check can record nothing: it reports a failure, or the
    # database error reaches the caller; either way nothing of it was stored.
    if isinstance(failed, Exception):
        assert isinstance(failed, OperationalError), repr(failed)
    else:
        assert [r.status for r in failed] == ["failed"]

    postgres.start()  # crash recovery: what was committed before the crash is all there is
    assert len(rows(engine, Version)) == 1
    assert [e.kind for e in rows(engine, Event)] == ["new"]
    assert rows(engine, Delivery) == [] and smtp.messages == []

    server.set("/page", V3)
    [result] = run_check(config, engine, ["guidance"])  # the next pass, on the same Engine
    assert result.status == "ok" and result.new_versions == 1 and result.events == {"changed:substantive": 1}
    assert Sender(config, engine).drain().sent == 1

    # A restart while idle: the Engine's pooled connections are now stale, and nothing has
    # used them since. The first check after it must not fail on one.
    postgres.crash()
    postgres.start()
    [result] = run_check(config, engine, ["guidance"])  # and the pass after: nothing new, nothing again
    assert result.status == "ok" and result.new_versions == 0 and result.events == {}
    Sender(config, engine).drain()
    assert len(rows(engine, Version)) == 2
    assert [e.kind for e in rows(engine, Event)] == ["new", "changed"]
    assert [d.status for d in rows(engine, Delivery)] == ["sent"]
    [message] = smtp.messages
    assert message["To"] == "legal@example.com"
    [source] = rows(engine, Source)
    assert source.consecutive_failures == 0 and source.last_error is None


def test_the_running_service_recovers_from_a_postgresql_restart_without_being_restarted(
    server, watched, postgres, smtp
):
    config, engine = watched(interval="2s")
    server.set("/page", V1)
    service = Service(config, engine)
    outcomes: list[tuple[str, BaseException | None]] = []  # (job id, exception) as each job run ends
    service.start()
    try:
        wait_until(lambda: service.scheduler is not None, "the service to take the scheduler lock")
        service.scheduler.add_listener(
            lambda event: outcomes.append((event.job_id, event.exception)), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )
        wait_until(lambda: len(rows(engine, Version)) == 1, "the baseline check")

        start = len(outcomes)
        crash_during_the_next_fetch(server, postgres)
        # The poll that was fetching ends in a database error, caught by the scheduler, not its end.
        wait_until(
            lambda: any(job == "source:guidance" and error is not None for job, error in outcomes[start:]),
            "the interrupted poll to end",
        )
        errors = [error for job, error in outcomes[start:] if job == "source:guidance" and error is not None]
        assert all(isinstance(error, OperationalError) for error in errors), errors

        server.set("/page", V1)  # polls from here until V3 below cannot store anything new
        postgres.start()
        assert len(rows(engine, Version)) == 1 and rows(engine, Delivery) == []
        server.set("/page", V3)
        smtp.wait_for(1, timeout=WAIT)  # a later poll catches up and its drain sends the alert
        assert len(smtp.messages) == 1
        assert service.scheduler.running and service.lock.still_held()  # in charge again

        hits = len(server.hits_for("/page"))  # another poll of the unchanged page: nothing again
        wait_until(lambda: len(server.hits_for("/page")) > hits, "another poll")
    finally:
        service.stop()

    assert len(rows(engine, Version)) == 2
    assert [e.kind for e in rows(engine, Event)] == ["new", "changed"]
    Sender(config, engine).drain()
    assert [d.status for d in rows(engine, Delivery)] == ["sent"]
    [message] = smtp.messages
    assert message["To"] == "legal@example.com"


def test_a_scheduler_whose_lock_died_with_the_server_knows_it_and_lets_go_cleanly(watched, postgres):
    _config, engine = watched()
    active, standby = SchedulerLock(engine), SchedulerLock(engine)
    assert active.acquire() and not standby.acquire()
    assert active.still_held()
    postgres.crash()
    postgres.start()

    assert not active.still_held()  # the restart ended its session, and the lock with it
    active.release()  # nothing to release, and no error for it
    assert standby.acquire()  # whoever comes first takes it…
    assert not active.acquire()  # …and then it is held again: one scheduler at a time
    standby.release()
