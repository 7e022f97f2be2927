"""Shared fixtures: a database on SQLite and on PostgreSQL, a loopback server, configs."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from textwrap import dedent

import pytest
from sqlalchemy import create_engine, text

from tests.support.smtp import SmtpSink
from tracker.demo.server import FixtureServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FILES = PROJECT_ROOT / "tests" / "files"
PG_URL = os.environ.get("RULEWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _no_rulewatch_environment(monkeypatch) -> None:
    """A developer's exported RULEWATCH_* (a database URL, an SMTP host) must never reach a test."""
    for name in list(os.environ):
        if name.startswith("RULEWATCH_") and name != "RULEWATCH_TEST_PG_URL":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _engines_disposed(monkeypatch):
    """Every engine a test opens is disposed after it, so PostgreSQL connections do not pile up."""
    import storage.db

    opened = []

    def tracked(*args, **kwargs):
        engine = create_engine(*args, **kwargs)
        opened.append(engine)
        return engine

    monkeypatch.setattr(storage.db, "create_engine", tracked)
    yield
    for engine in opened:
        engine.dispose()


def _postgres_schema_url(request) -> str:
    """A fresh schema per test in the `test` database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the server is part of the test environment
        pytest.fail(f"PostgreSQL at {PG_URL} is not usable ({exc}); start it (see .ci/run)")

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    request.addfinalizer(drop)
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rulewatch.db'}"
    return _postgres_schema_url(request)


# For a test of what a crawl fetches or refuses (the URL policy, robots.txt, Retry-After, limits):
# it stores at most a source's failure, through the same code on both databases, so it runs on
# SQLite alone. What is stored (versions, events, removals, search) is tested on both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_database_url(request, tmp_path_factory) -> str:
    """A database built once for a module's read-only fixtures, on each of the two dialects."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('module-db') / 'rulewatch.db'}"
    return _postgres_schema_url(request)


@pytest.fixture(scope="module")
def other_module_database_url(request, module_database_url, tmp_path_factory) -> str:
    """A second database on the same dialect, for a module that serves two apps apart."""
    if module_database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path_factory.mktemp('other-module-db') / 'rulewatch.db'}"
    return _postgres_schema_url(request)


@pytest.fixture(scope="module")
def shared_history(module_database_url, tmp_path_factory):
    """The event history of tests/support/history.py, built once per module for the tests that
    only read it. A test that writes takes a fresh `history`; a write here fails that test."""
    from tests.support.history import build_history

    history = build_history(module_database_url, tmp_path_factory.mktemp("history"))
    yield history
    history.engine.dispose()


@pytest.fixture(autouse=True)
def _shared_history_left_unchanged(request):
    if "shared_history" not in request.fixturenames:
        yield
        return
    from tests.support.history import unchanged

    with unchanged(request.getfixturevalue("shared_history").engine):
        yield


@pytest.fixture
def postgres_url(request) -> str:
    """A PostgreSQL schema of its own, for what needs a shared server (a [cluster] of Scrapyd nodes)."""
    return _postgres_schema_url(request)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that records what it accepts."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver():
    """A real HTTP receiver on loopback for channels: webhooks, Apprise's json:// and form://."""
    from tests.support.receiver import Receiver

    loopback = Receiver().start()
    yield loopback
    loopback.stop()


@pytest.fixture(autouse=True)
def _warm_crawls_ended():
    """The crawl processes a test started through tests.support.crawls end with it."""
    yield
    crawls = sys.modules.get("tests.support.crawls")
    if crawls is not None:
        crawls.stop_crawls()


@pytest.fixture
def server():
    fixture_server = FixtureServer().start()
    yield fixture_server
    fixture_server.stop()


@pytest.fixture
def other_server():
    """Another host (another port of 127.0.0.1) that a crawl must never reach."""
    other = FixtureServer().start()
    other.set("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    other.set("/page", "<html><body><main><p>Somewhere else entirely.</p></main></body></html>")
    yield other
    other.stop()


@pytest.fixture
def write_config(tmp_path, database_url):
    """Writes a config file whose database is the test's; returns its path."""

    def write(body: str, name: str = "rulewatch.toml", fetch: str = "delay = 0\ntimeout = 5\nretries = 0") -> Path:
        path = tmp_path / name
        path.write_text(
            f'[database]\nurl = "{database_url}"\n\n[fetch]\n{fetch}\n\n' + dedent(body),
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def fr_source(server, write_config):
    """A `federal_register` source on the loopback server: make() gives its config and database."""
    from storage.db import open_database
    from tracker.config import load_config

    def make(public_inspection: bool = False, extra: str = 'agencies = ["industry-and-security-bureau"]'):
        config = load_config(
            write_config(
                f"""
                [[sources]]
                name = "federal-register"
                kind = "federal_register"
                base_url = "{server.base_url}"
                public_inspection = {"true" if public_inspection else "false"}
                {extra}
                """
            )
        )
        return config, open_database(config.database_url)

    return make


# A test is `slow` when it starts a process or a server: a crawl on the loopback server, an SMTP
# sink, a Scrapyd node, PostgreSQL's shared schemas, Chromium. `scripts/test --fast` leaves them out.
SLOW_FIXTURES = {"server", "other_server", "smtp", "receiver", "node", "postgres_url", "site", "browser"}
SLOW_MODULES = {
    "test_end_to_end.py",
    "test_faults.py",
    "test_fault_postgres_restart.py",
    "test_scale_out.py",
    "test_logging.py",
    "test_body_limits.py",
    "test_demo.py",
    "test_demo_exports.py",  # the demo's crawls, warcio's tools and LibreOffice
    "test_cli.py",
}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if {"database_url", "module_database_url"} <= set(getattr(item, "fixturenames", ())):
            # Both would run it on every pairing of dialects, and mix a shared database with a fresh one.
            raise pytest.UsageError(f"{item.nodeid}: takes a fresh database and a module's shared one; choose one")
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
