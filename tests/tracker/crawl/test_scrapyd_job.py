"""The `check` spider as Scrapyd runs it: `scrapy crawl check -a sources=… -a config=… -a run=…`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from storage.db import open_database, session_scope, utcnow
from storage.models import NodeJob, Version
from storage.repository import get_source
from tests.conftest import PROJECT_ROOT
from tracker.config import load_config


def crawl_check(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scrapy.cmdline", "crawl", "check"]
    for argument in arguments:
        command += ["-a", argument]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "spiders.settings", "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_job_checks_its_sources_and_records_the_results_in_its_run(tmp_path, server, write_config):
    server.set("/a", "<html><body><main><p>Exporters must file by 10 May.</p></main></body></html>")
    server.set("/b", "Gone", status=404)
    path = write_config(f"""
        [[sources]]
        name = "a"
        kind = "page"
        url = "{server.url("/a")}"

        [[sources]]
        name = "b"
        kind = "page"
        url = "{server.url("/b")}"
        """)
    engine = open_database(load_config(path).database_url)
    with session_scope(engine) as session:
        run = NodeJob(sources=["a", "b"], node="http://node:6800", job="rulewatch-1", dispatched_at=utcnow())
        session.add(run)
        session.flush()
        run_id = run.id

    done = crawl_check(tmp_path, "sources=a,b", f"config={path}", f"run={run_id}")

    assert done.returncode == 0, done.stderr
    with session_scope(engine) as session:
        run = session.get(NodeJob, run_id)
        results = run.results
        assert run.finished_at is not None and run.status == "running"  # the scheduler settles it
        assert results["a"]["fetched"] == 1 and results["a"]["new_versions"] == 1
        assert results["b"]["fetched"] == 0 and "HTTP 404" in results["b"]["failures"][0]
        assert len(session.exec(select(Version)).all()) == 1
        assert get_source(session, "a").last_success_at is not None
        assert get_source(session, "b").consecutive_failures == 1


def test_a_job_without_sources_or_with_an_unknown_run_says_what_is_wrong(tmp_path, server, write_config):
    server.set("/a", "<html><body><p>Text</p></body></html>")
    path = write_config(f'[[sources]]\nname = "a"\nkind = "page"\nurl = "{server.url("/a")}"\n')

    assert "the check spider needs -a sources=NAME" in crawl_check(tmp_path, f"config={path}").stderr
    unknown = crawl_check(tmp_path, "sources=a", f"config={path}", "run=999")
    assert "check run 999 is not in the database" in unknown.stderr


def test_a_job_escapes_fetched_text_in_its_log(tmp_path, server, write_config):
    server.set(
        "/a",
        "<html><body><main><p>Text.</p></main></body></html>",
        headers={"Content-Encoding": "x\x1b[2J\x1b]0;owned\x07"},
    )
    path = write_config(f'[[sources]]\nname = "a"\nkind = "page"\nurl = "{server.url("/a")}"\n')
    done = crawl_check(tmp_path, "sources=a", f"config={path}")
    assert done.returncode == 0, done.stderr
    assert "cannot decode the response" in done.stderr
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
