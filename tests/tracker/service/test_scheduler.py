"""The service's scheduling: backoff, the restart-proof schedule, the scheduler lock, and
`rulewatch run` end to end (a change reaches a real SMTP server; SIGKILL loses nothing)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import open_database
from storage.models import Source
from tests.conftest import FILES, PROJECT_ROOT
from tests.support.smtp import SmtpSink, free_port
from tracker.config import load_config
from tracker.health import backoff, held_back_until, next_due
from tracker.service.lock import SchedulerLock
from tracker.service.scheduler import Service

PAGES = FILES / "pages"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("failures, wait", [(0, 60), (1, 60), (2, 120), (3, 240), (12, 6 * 3600)])
def test_backoff_doubles_after_repeated_failures(failures, wait):
    assert backoff(60, failures) == timedelta(seconds=wait)


def test_a_long_interval_is_never_shortened_by_the_cap():
    assert backoff(86400, 5) == timedelta(seconds=86400)


def checked(ago: timedelta | None, failures: int = 0, retry_after: datetime | None = None) -> Source:
    return Source(
        name="s",
        kind="page",
        last_checked_at=None if ago is None else NOW - ago,
        consecutive_failures=failures,
        retry_after=retry_after,
    )


def test_the_schedule_comes_from_the_last_check():
    day = 86400
    assert next_due(None, 900, day, NOW) == NOW
    assert next_due(checked(None), 900, day, NOW) == NOW
    assert next_due(checked(timedelta(minutes=5)), 900, day, NOW) == NOW + timedelta(minutes=10)
    assert next_due(checked(timedelta(hours=2)), 900, day, NOW) == NOW  # overdue: now, once
    assert next_due(checked(timedelta(minutes=5), failures=3), 900, day, NOW) == NOW + timedelta(minutes=55)


def test_a_retry_after_puts_the_next_check_off_up_to_its_cap():
    asked = checked(timedelta(minutes=5), retry_after=NOW + timedelta(hours=3))
    assert next_due(asked, 900, 86400, NOW) == NOW + timedelta(hours=3)
    # Held to retry_after_max after the last check, however long the server asked for.
    assert next_due(asked, 900, 3600, NOW) == NOW + timedelta(minutes=55)
    assert next_due(checked(timedelta(minutes=5), retry_after=NOW), 900, 86400, NOW) == NOW + timedelta(minutes=10)


def test_a_poll_at_the_interval_is_held_back_only_beyond_it():
    """The scheduler polls every interval; only backoff or a Retry-After makes it wait longer."""
    assert held_back_until(None, 900, 86400, NOW) is None
    assert held_back_until(checked(timedelta(minutes=15)), 900, 86400, NOW) is None
    assert held_back_until(checked(timedelta(minutes=14), failures=1), 900, 86400, NOW) is None  # jitter: not held
    assert held_back_until(checked(timedelta(minutes=15), failures=2), 900, 86400, NOW) == NOW + timedelta(minutes=15)
    asked = checked(timedelta(minutes=15), retry_after=NOW + timedelta(hours=1))
    assert held_back_until(asked, 900, 86400, NOW) == NOW + timedelta(hours=1)


def test_one_scheduler_lock_per_database(database_url):
    engine = open_database(database_url)
    first, second = SchedulerLock(engine), SchedulerLock(engine)
    try:
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_second_service_stands_by_and_takes_over(write_config):
    config = load_config(
        write_config('[[sources]]\nname = "p"\nkind = "page"\nurl = "http://127.0.0.1:9/"\ninterval = "1h"\n')
    )
    engine = open_database(config.database_url)
    active, standby = Service(config, engine), Service(config, engine)
    try:
        active.start()
        assert wait_until(lambda: active.scheduler is not None)
        standby.start()
        time.sleep(1)
        assert standby.scheduler is None
        active.stop()
        assert wait_until(lambda: standby.scheduler is not None, timeout=15)
    finally:
        active.stop()
        standby.stop()


def test_run_delivers_a_change_and_survives_sigkill(server, write_config):
    server.set("/page", (PAGES / "guidance_v1.html").read_bytes())
    smtp = SmtpSink().start()
    config_path = write_config(
        f"""
        [mail]
        smtp_host = "127.0.0.1"
        smtp_port = {smtp.port}

        [web]
        port = {free_port()}

        [[sources]]
        name = "guidance"
        kind = "page"
        url = "{server.url("/page")}"
        selector = "main"
        interval = "2s"

        [[subscribers]]
        email = "legal@example.com"
        """
    )
    web_port = int(load_config(config_path).web.port)
    project = PROJECT_ROOT
    command = [sys.executable, "-m", "tracker.cli", "--config", str(config_path), "run"]
    env = {**os.environ, "PYTHONPATH": str(project)}

    def start():
        return subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    service = start()
    try:
        assert wait_until(lambda: len(server.hits_for("/page")) >= 1)  # the baseline check
        time.sleep(1)
        server.set("/page", (PAGES / "guidance_v3_negation.html").read_bytes())
        assert wait_until(lambda: len(smtp.messages) == 1), "the change never reached the SMTP server"
        assert "Substantive change" in smtp.messages[0]["Subject"]
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/changes", timeout=10) as answer:
            shown = json.loads(answer.read())
        assert any(c["event"] == "changed" and c["severity"] == "substantive" for c in shown)  # the web app shows it

        os.killpg(service.pid, signal.SIGKILL)
        service.wait(10)
        server.set("/page", (PAGES / "guidance_v1.html").read_bytes())  # changed while it was down
        service = start()
        assert wait_until(lambda: len(smtp.messages) == 2), "the change made while stopped was lost"
        time.sleep(3)
        ids = [m["Message-ID"] for m in smtp.messages]
        assert len(ids) == len(set(ids)) == 2
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGTERM)
            service.wait(20)
        smtp.stop()


@pytest.mark.postgres
def test_deployments_in_two_schemas_of_one_database_each_get_a_scheduler(request):
    from tests.conftest import _postgres_schema_url

    first, second = open_database(_postgres_schema_url(request)), open_database(_postgres_schema_url(request))
    locks = [SchedulerLock(first), SchedulerLock(first), SchedulerLock(second)]
    try:
        assert [lock.acquire() for lock in locks] == [True, False, True]
    finally:
        for lock in locks:
            lock.release()
