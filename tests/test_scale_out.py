"""Scale-out on loopback: two Scrapyd nodes, two `rulewatch run` schedulers, 300 sources, PostgreSQL.

Every source is crawled once per interval; when a node and the active scheduler
are killed mid-pass, the standby takes over, the dead node's runs go to the
other node, and every change is recorded and mailed exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select

from storage.db import open_database, session_scope
from storage.models import Event, NodeJob, Source
from tests.conftest import PROJECT_ROOT
from tests.support.scrapyd import NodeProcess
from tests.support.smtp import SmtpSink, free_port
from tracker.heartbeat import last_heartbeat

pytestmark = pytest.mark.postgres

SOURCES = 300
INTERVAL = 60  # seconds
CHANGED = range(0, SOURCES, 10)  # 30 pages change between the first pass and the second
SECOND_PASS_DELAY = 0.3  # seconds before each answer in the second pass


def page(n: int, version: int) -> str:
    deadline = 10 + n % 15 + (5 if version > 1 else 0)
    return (
        f"<html><body><main><h1>Notice {n}</h1><p>Licence applications for item {n} "
        f"must be filed by {deadline} June.</p></main></body></html>"
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def test_two_nodes_and_two_schedulers_share_300_sources_and_survive_losing_one_of_each(tmp_path, postgres_url, server):
    for n in range(SOURCES):
        server.set(f"/notice/{n}", page(n, 1))
    smtp = SmtpSink().start()
    nodes = [NodeProcess(tmp_path / f"node{i}", max_jobs=2).start() for i in (1, 2)]
    sources = "".join(
        f'[[sources]]\nname = "notice-{n}"\nkind = "page"\nurl = "{server.url(f"/notice/{n}")}"\n'
        f'selector = "main"\ninterval = "{INTERVAL}s"\n\n'
        for n in range(SOURCES)
    )

    def config(name: str) -> Path:  # the same deployment; each scheduler's web app on its own port
        path = tmp_path / name
        path.write_text(
            f'[database]\nurl = "{postgres_url}"\n\n[fetch]\ndelay = 0\ntimeout = 10\nretries = 0\n\n'
            f'[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n\n[web]\nport = {free_port()}\n\n'
            f'[cluster]\nnodes = {json.dumps([node.url for node in nodes])}\nbatch_size = 25\nnode_timeout = "5s"\n'
            f'node_config = "{tmp_path / "scheduler-1.toml"}"\n\n'
            f'[[subscribers]]\nemail = "legal@example.com"\n\n{sources}',
            encoding="utf-8",
        )
        return path

    def scheduler(path: Path) -> subprocess.Popen:
        log = open(tmp_path / f"{path.stem}.log", "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "tracker.cli", "--config", str(path), "run"],
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    engine = open_database(postgres_url)

    def heartbeat_holder() -> str | None:
        with session_scope(engine) as session:
            heartbeat = last_heartbeat(session)
            return heartbeat.holder if heartbeat else None

    def source_rows() -> list[Source]:
        with session_scope(engine) as session:
            rows = session.exec(select(Source)).all()
            session.expunge_all()
            return list(rows)

    def hits(n: int) -> int:
        return len(server.hits_for(f"/notice/{n}"))

    active = scheduler(config("scheduler-1.toml"))
    standby = None
    try:
        wait_for(lambda: (heartbeat_holder() or "").endswith(f":{active.pid}"), 60, "the first scheduler to start")
        standby = scheduler(config("scheduler-2.toml"))

        # The first pass: every source crawled once, split between the two nodes.
        wait_for(lambda: sum(1 for s in source_rows() if s.last_success_at) == SOURCES, 240, "the first pass")
        first_pass = {s.name: s.last_checked_at for s in source_rows()}
        with session_scope(engine) as session:
            last_first_pass_run = max(run.id for run in session.exec(select(NodeJob)))
        assert [hits(n) for n in range(SOURCES)] == [1] * SOURCES
        with session_scope(engine) as session:
            assert {run.node for run in session.exec(select(NodeJob))} == {node.url for node in nodes}

        # In the second pass each answer takes a moment, so a job of 25 pages runs for seconds
        # and the node dies in the middle of one rather than between two.
        for n in range(SOURCES):
            server.set(f"/notice/{n}", page(n, 2 if n in CHANGED else 1), delay=SECOND_PASS_DELAY)

        # The second pass begins: kill a node that is crawling, and the active scheduler.
        # A job of the second pass, not the tail of a first-pass job still shown as running.
        def second_pass_crawling_on_first_node() -> bool:
            with session_scope(engine) as session:
                runs = session.exec(
                    select(NodeJob).where(
                        NodeJob.node == nodes[0].url, NodeJob.id > last_first_pass_run, NodeJob.status == "running"
                    )
                ).all()
                jobs = {run.job for run in runs if run.finished_at is None}
            return bool(jobs & {job["id"] for job in nodes[0].jobs()["running"]})

        wait_for(second_pass_crawling_on_first_node, INTERVAL + 60, "the second pass to reach the first node")
        nodes[0].kill()
        os.killpg(active.pid, signal.SIGKILL)
        active.wait(timeout=10)

        wait_for(lambda: (heartbeat_holder() or "").endswith(f":{standby.pid}"), 60, "the standby to take over")
        wait_for(
            lambda: all(s.last_checked_at > first_pass[s.name] for s in source_rows()),
            INTERVAL + 180,
            "the second pass to finish on the surviving node",
        )
        smtp.wait_for(len(CHANGED), timeout=60)
        time.sleep(3)  # room for a duplicate to show up, were there one

        # Nothing lost: every change recorded and mailed. Nothing duplicated: once each.
        with session_scope(engine) as session:
            changed = session.exec(select(Event).where(Event.kind == "changed")).all()
            changed_documents = sorted(event.document_id for event in changed)
            lost = session.exec(select(NodeJob).where(NodeJob.status == "lost")).all()
        assert len(changed) == len(CHANGED) and len(set(changed_documents)) == len(CHANGED)
        assert len(smtp.messages) == len(CHANGED)
        assert len({message["Message-ID"] for message in smtp.messages}) == len(CHANGED)
        assert all(s.consecutive_failures == 0 for s in source_rows())

        # The killed node's runs were taken over by the other node.
        assert lost and all(run.node == nodes[0].url for run in lost)
        retried = {name for run in lost for name in run.sources}
        # Once per interval: twice in all (two passes), a third time only for a source
        # whose run died with the node, after it may already have fetched the page.
        for n in range(SOURCES):
            assert 2 <= hits(n) <= (3 if f"notice-{n}" in retried else 2), f"notice-{n}: {hits(n)} fetches"
    finally:
        for process in (active, standby):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        for node in nodes:
            node.kill()
        smtp.stop()
