"""Dispatching checks to Scrapyd nodes: real nodes on loopback, a real PostgreSQL store.

Each test drives `Dispatcher.tick` by hand with a clock it controls, so node
time-outs are simulated rather than waited for.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import NodeJob, Version
from storage.repository import ensure_source, get_source
from tests.support.scrapyd import NodeProcess
from tests.support.smtp import free_port
from tracker.config import load_config
from tracker.service.cluster import Dispatcher, NodeError, ScrapydNode
from tracker.settings import ConfigError

pytestmark = pytest.mark.postgres

PAGE = "<html><body><main><h1>Guidance {n}</h1><p>Exporters must file by {day} May.</p></main></body></html>"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    started = NodeProcess(tmp_path_factory.mktemp("scrapyd") / "node").start()
    yield started
    started.kill()


class Clock:
    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self):
        return utcnow() + self.offset


def cluster_config(tmp_path, url, server, nodes, names=("a", "b", "c"), **cluster):
    for n, name in enumerate(names):
        server.set(f"/{name}", PAGE.format(n=n, day=10 + n))
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nkind = "page"\nurl = "{server.url("/" + name)}"\ninterval = "1h"\n\n'
        for name in names
    )
    options = "".join(f"{key} = {json.dumps(value)}\n" for key, value in cluster.items())
    path = tmp_path / "rulewatch.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[fetch]\ndelay = 0\ntimeout = 5\nretries = 0\n\n'
        f"[cluster]\nnodes = {json.dumps(nodes)}\n{options}\n{sources}",
        encoding="utf-8",
    )
    config = load_config(path)
    return config, open_database(config.database_url)


def runs(engine) -> list[NodeJob]:
    with session_scope(engine) as session:
        rows = session.exec(select(NodeJob).order_by(NodeJob.id)).all()
        session.expunge_all()
        return list(rows)


def tick_until(dispatcher, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dispatcher.tick()
        if condition():
            return True
        time.sleep(0.3)
    return False


# --- configuration -------------------------------------------------------------------------


def test_a_cluster_needs_postgresql_and_nodes(tmp_path):
    path = tmp_path / "rulewatch.toml"
    path.write_text('[database]\nurl = "sqlite:///x.db"\n[cluster]\nnodes = ["http://10.0.0.5:6800"]\n')
    with pytest.raises(ConfigError, match="cluster: Scrapyd nodes must share the database: set \\[database\\] url"):
        load_config(path)
    path.write_text('[database]\nurl = "postgresql+psycopg://db/rw"\n[cluster]\nnodes = []\n')
    with pytest.raises(ConfigError, match=r"cluster\.nodes: list at least one Scrapyd node"):
        load_config(path)
    path.write_text('[database]\nurl = "postgresql+psycopg://db/rw"\n[cluster]\nnodes = ["10.0.0.5:6800"]\n')
    with pytest.raises(ConfigError, match=r"cluster.nodes\[0\]: expected an http\(s\) URL"):
        load_config(path)


def test_cluster_defaults(tmp_path):
    path = tmp_path / "rulewatch.toml"
    path.write_text('[database]\nurl = "postgresql+psycopg://db/rw"\n[cluster]\nnodes = ["http://10.0.0.5:6800/"]\n')
    cluster = load_config(path).cluster
    assert cluster.nodes == ("http://10.0.0.5:6800",)
    assert (cluster.project, cluster.batch_size, cluster.node_timeout) == ("rulewatch", 25, 30)
    assert cluster.node_config == str(path.resolve())


# --- the Scrapyd client ----------------------------------------------------------------------


def test_a_node_that_is_not_scrapyd_or_not_there_is_a_clear_error(server):
    server.set("/listjobs.json", "<html><body>Welcome to nginx</body></html>", ignore_query=True)
    with pytest.raises(NodeError, match="answered HTTP 200 without JSON; is it a Scrapyd node"):
        ScrapydNode(server.base_url, "rulewatch").jobs()
    with pytest.raises(NodeError, match="is unreachable"):
        ScrapydNode(f"http://127.0.0.1:{free_port()}", "rulewatch", timeout=2).jobs()


def test_scrapyd_refusals_are_reported_with_its_message(node):
    with pytest.raises(NodeError, match=r"refused: .*project 'nope' not found"):
        ScrapydNode(node.url, "nope").schedule("job-1", ["a"], "/x.toml", 1)


# --- dispatching and settling -------------------------------------------------------------------


def test_due_sources_go_out_in_batches_and_their_results_come_back(tmp_path, postgres_url, server, node):
    config, engine = cluster_config(tmp_path, postgres_url, server, [node.url], batch_size=2)
    reported = []
    dispatcher = Dispatcher(config, engine, report=reported.append)

    assert dispatcher.due_sources() == ["a", "b", "c"]
    assert tick_until(dispatcher, lambda: all(run.status == "done" for run in runs(engine)) and len(runs(engine)) == 2)

    batches = [run.sources for run in runs(engine)]
    assert batches == [["a", "b"], ["c"]]
    assert sorted(r.name for r in reported) == ["a", "b", "c"]
    assert all(r.status == "ok" and r.new_versions == 1 and r.events == {"new": 1} for r in reported)
    with session_scope(engine) as session:
        assert len(session.exec(select(Version)).all()) == 3
        assert all(get_source(session, name).last_success_at for name in "abc")
    assert dispatcher.due_sources() == []  # each is next due an interval after its check
    dispatcher.tick()
    assert len(runs(engine)) == 2
    assert [len(server.hits_for(f"/{name}")) for name in "abc"] == [1, 1, 1]


def test_a_retry_after_of_old_past_the_cap_holds_a_source_only_until_the_cap(tmp_path, postgres_url, server):
    config, engine = cluster_config(tmp_path, postgres_url, server, ["http://127.0.0.1:9"], names=("a",))
    clock = Clock()
    dispatcher = Dispatcher(config, engine, clock=clock)
    checked = utcnow()
    with session_scope(engine) as session:
        row = ensure_source(session, "a", "page")
        row.last_checked_at = checked  # stored before [fetch] retry_after_max: a wait until year 9999
        row.retry_after = datetime(9999, 12, 31, tzinfo=UTC)
    clock.offset = timedelta(hours=23)
    assert dispatcher.due_sources() == []
    clock.offset = timedelta(hours=25)  # past the default 24h cap after its last check
    assert dispatcher.due_sources() == ["a"]


def test_a_job_that_ends_without_results_is_a_failed_check_pointing_at_its_log(tmp_path, postgres_url, server, node):
    config, engine = cluster_config(
        tmp_path, postgres_url, server, [node.url], names=("a",), node_config=str(tmp_path / "missing.toml")
    )
    reported = []
    dispatcher = Dispatcher(config, engine, report=reported.append)
    assert tick_until(dispatcher, lambda: reported)

    assert reported[0].status == "failed"
    assert (
        "ended without a result; see its log: " + node.url + "/logs/rulewatch/check/rulewatch-"
        in reported[0].failures[0]
    )
    with session_scope(engine) as session:
        source = get_source(session, "a")
        assert source.consecutive_failures == 1 and "ended without a result" in source.last_error
        assert session.exec(select(Version)).all() == []
    assert server.hits_for("/a") == []


def test_runs_on_a_node_gone_too_long_go_to_another_node(tmp_path, postgres_url, server, node):
    dead = f"http://127.0.0.1:{free_port()}"
    config, engine = cluster_config(
        tmp_path, postgres_url, server, [dead, node.url], names=("a", "b"), node_timeout="30s", batch_size=1
    )
    with session_scope(engine) as session:  # the dead node had taken "a" before it went down
        session.add(NodeJob(sources=["a"], node=dead, job="rulewatch-0", dispatched_at=utcnow()))
    clock = Clock()
    dispatcher = Dispatcher(config, engine, clock=clock)

    dispatcher.tick()
    first = runs(engine)
    assert first[0].status == "running"  # unreachable, but not for long enough yet
    assert [(r.sources, r.node) for r in first[1:]] == [(["b"], node.url)]  # new work avoids it

    clock.offset = timedelta(seconds=31)
    dispatcher.tick()
    lost, taken_over = runs(engine)[0], runs(engine)[-1]
    assert lost.status == "lost" and "unreachable for 30s or more" in lost.error
    assert (taken_over.sources, taken_over.node, taken_over.attempt) == (["a"], node.url, 2)
    assert tick_until(dispatcher, lambda: all(r.status in ("done", "lost") for r in runs(engine)))
    assert len(server.hits_for("/a")) == 1 and len(server.hits_for("/b")) == 1


def test_a_run_its_node_forgot_is_taken_over_and_a_run_lost_too_often_fails(tmp_path, postgres_url, server, node):
    config, engine = cluster_config(tmp_path, postgres_url, server, [node.url], names=("a", "b"))
    with session_scope(engine) as session:  # e.g. the node restarted and lost its queue
        session.add(NodeJob(sources=["a"], node=node.url, job="rulewatch-forgotten", dispatched_at=utcnow()))
        session.add(
            NodeJob(sources=["b"], node=node.url, job="rulewatch-forgotten-again", dispatched_at=utcnow(), attempt=3)
        )
    reported = []
    dispatcher = Dispatcher(config, engine, report=reported.append)
    assert tick_until(dispatcher, lambda: len(reported) == 2)

    forgotten, given_up, retried = runs(engine)
    assert forgotten.status == "lost" and "no longer knows job rulewatch-forgotten" in forgotten.error
    assert (retried.sources, retried.attempt, retried.status) == (["a"], 2, "done")
    assert given_up.status == "done" and "lost 3 times" in given_up.error
    by_name = {r.name: r for r in reported}
    assert by_name["a"].status == "ok", by_name["a"]
    assert by_name["b"].status == "failed"


def test_a_standby_scheduler_carries_on_with_the_runs_in_flight(tmp_path, postgres_url, server, node):
    config, engine = cluster_config(tmp_path, postgres_url, server, [node.url], names=("a",))
    Dispatcher(config, engine).tick()  # the active scheduler dispatches, then dies
    assert [r.status for r in runs(engine)] == ["running"]

    reported = []
    standby = Dispatcher(config, engine, report=reported.append)
    assert tick_until(standby, lambda: reported)
    assert [r.status for r in runs(engine)] == ["done"]  # settled by the standby, not dispatched again
    assert reported[0].status == "ok" and reported[0].events == {"new": 1}
    assert len(server.hits_for("/a")) == 1


def test_healthz_shows_the_runs_in_flight_and_those_lost(tmp_path, postgres_url, server):
    from fastapi.testclient import TestClient

    from tracker.web.app import create_app

    config, engine = cluster_config(tmp_path, postgres_url, server, ["http://10.0.0.5:6800"], names=("a",))
    with session_scope(engine) as session:
        session.add(
            NodeJob(
                sources=["a"], node="http://10.0.0.5:6800", job="j1", dispatched_at=utcnow() - timedelta(seconds=90)
            )
        )
        session.add(
            NodeJob(
                sources=["a"],
                node="http://10.0.0.5:6800",
                job="j0",
                status="lost",
                dispatched_at=utcnow() - timedelta(minutes=5),
            )
        )
        session.add(
            NodeJob(
                sources=["a"],
                node="http://10.0.0.5:6800",
                job="old",
                status="lost",
                dispatched_at=utcnow() - timedelta(hours=3),
            )
        )
    cluster = TestClient(create_app(config, engine)).get("/healthz").json()["cluster"]
    assert cluster["runs_in_flight"] == 1 and 90 <= cluster["oldest_run_seconds"] < 150
    assert cluster["runs_lost_last_hour"] == 1


def test_a_node_behind_scrapyd_credentials(tmp_path, postgres_url, server):
    node = NodeProcess(tmp_path / "locked-node", credentials=("rulewatch", "s3cret")).start()
    try:
        with pytest.raises(NodeError, match="wants credentials \\(HTTP 401\\)"):
            ScrapydNode(node.url, "rulewatch").jobs()
        with_credentials = node.url.replace("http://", "http://rulewatch:s3cret@")
        config, engine = cluster_config(tmp_path, postgres_url, server, [with_credentials], names=("a",))
        reported = []
        dispatcher = Dispatcher(config, engine, report=reported.append)
        assert tick_until(dispatcher, lambda: reported)
        assert reported[0].status == "ok"
        assert [run.node for run in runs(engine)] == [node.url]  # never the password
    finally:
        node.kill()
