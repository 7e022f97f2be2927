"""The scheduler's heartbeat: what the service writes is what /healthz reads, and when it is fresh."""

import os
import socket
from datetime import UTC, datetime, timedelta

from storage.db import open_database, session_scope
from storage.models import Setting
from tracker.config import load_config
from tracker.heartbeat import HEARTBEAT_FRESH, HEARTBEAT_KEY, Heartbeat, beat, last_heartbeat, parse, scheduler_state
from tracker.service.scheduler import Service

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_a_beat_reads_back_as_written(database_url):
    engine = open_database(database_url)
    with session_scope(engine) as session:
        assert last_heartbeat(session) is None
        beat(session, holder="host-a:41", now=NOW - timedelta(minutes=3))
    with session_scope(engine) as session:
        beat(session, holder="host-b:42", now=NOW)  # the same row, overwritten
    with session_scope(engine) as session:
        assert last_heartbeat(session) == Heartbeat(NOW, "host-b:42")
        assert session.get(Setting, HEARTBEAT_KEY) is not None


def test_the_service_beats_in_the_one_format(write_config):
    config = load_config(
        write_config('[[sources]]\nname = "p"\nkind = "page"\nurl = "http://127.0.0.1:9/"\ninterval = "1h"\n')
    )
    engine = open_database(config.database_url)
    Service(config, engine)._heartbeat()
    with session_scope(engine) as session:
        heartbeat = last_heartbeat(session)
    assert heartbeat is not None and heartbeat.fresh() and heartbeat.holder == f"{socket.gethostname()}:{os.getpid()}"


def test_fresh_for_two_minutes_after_a_beat():
    assert Heartbeat(NOW - HEARTBEAT_FRESH + timedelta(seconds=1), "h:1").fresh(NOW)
    assert not Heartbeat(NOW - HEARTBEAT_FRESH, "h:1").fresh(NOW)
    assert scheduler_state(None, NOW) == {"scheduler": "absent", "last_heartbeat": None, "scheduler_holder": None}
    assert scheduler_state(Heartbeat(NOW - timedelta(seconds=30), "h:1"), NOW) == {
        "scheduler": "active",
        "last_heartbeat": "2026-11-25T09:59:30Z",
        "scheduler_holder": "h:1",
    }
    assert scheduler_state(Heartbeat(NOW - timedelta(minutes=5), "h:1"), NOW)["scheduler"] == "stale"


def test_a_row_in_another_format_reads_as_a_stale_scheduler():
    for value in ("garbage", "2026-11-25T09:59:00Z pid 4 on host", '["at"]', '{"at": 5, "holder": 6}'):
        heartbeat = parse(value)
        assert heartbeat == Heartbeat(None, None)
        assert scheduler_state(heartbeat, NOW) == {
            "scheduler": "stale",
            "last_heartbeat": None,
            "scheduler_holder": None,
        }
    assert parse('{"at": "2026-11-25T09:59:30", "holder": "h:1"}') == Heartbeat(NOW - timedelta(seconds=30), "h:1")
