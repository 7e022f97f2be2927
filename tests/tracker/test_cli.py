"""Command-line behaviour that does not need a crawl: errors and empty states."""

import json

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT_ROOT
from tracker.cli import app


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[[sources]]\nname = "x"\nkind = "page"\nurl = "nope"\n')
    result = run("--config", str(path), "check")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "sources.x.url" in result.output and "Traceback" not in result.output


def test_unusable_database_exits_2(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/x"\n')
    result = run("--config", str(path), "documents")
    assert result.exit_code == 2 and "cannot use the database" in result.output


def test_unknown_source_and_document(tmp_path, database_url):
    path = tmp_path / "r.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    assert "no source named 'nope'" in run("--config", str(path), "check", "--source", "nope").output
    result = run("--config", str(path), "diff", "42")
    assert result.exit_code == 2 and "rulewatch documents" in result.output
    assert run("--config", str(path), "changes", "--json").output.strip() == "[]"
    assert "--severity" in run("--config", str(path), "changes", "--severity", "huge").output
    assert "ISO 8601" in run("--config", str(path), "changes", "--since", "yesterday").output


def test_subscribe_and_unsubscribe(tmp_path, database_url):
    from sqlmodel import select

    from storage.db import open_database, session_scope
    from storage.models import Subscriber

    path = tmp_path / "r.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n[[sources]]\nname = "bis"\nkind = "page"\nurl = "http://127.0.0.1:9/"\n'
    )
    ok = run("--config", str(path), "subscribe", " Legal@Example.COM ", "--source", "bis", "--digest", "daily")
    assert ok.exit_code == 0 and "legal@example.com follows bis" in ok.output
    again = run("--config", str(path), "subscribe", "legal@example.com", "--min-severity", "minor")
    assert again.exit_code == 0
    assert run("--config", str(path), "subscribe", "not-an-address").exit_code == 2
    assert "no source named 'nope'" in run("--config", str(path), "subscribe", "a@b.org", "--source", "nope").output
    assert run("--config", str(path), "subscribe", "a@b.org", "--digest", "hourly").exit_code == 2

    engine = open_database(database_url)
    with session_scope(engine) as session:
        [subscriber] = session.exec(select(Subscriber)).all()
        assert (subscriber.email, subscriber.min_severity, subscriber.digest) == ("legal@example.com", "minor", "off")
    assert run("--config", str(path), "unsubscribe", "LEGAL@example.com").exit_code == 0
    with session_scope(engine) as session:
        assert session.exec(select(Subscriber)).one().active is False
    assert run("--config", str(path), "unsubscribe", "other@example.com").exit_code == 2


# -- fetched text on the terminal --------------------------------------------------------------

# What a hostile server may put in a title, a URL or an error: clear the screen, set the
# window title, and a newline that forges a line of progress.
HOSTILE_TITLE = "Rule\x1b[2J\x1b]0;owned\x07 of \u202eexports"
HOSTILE_URL = "https://www.bis.gov/x\nbis: ok, 99 fetched\r"
HOSTILE_REASON = "negation removed\x1b[8m hidden"
CONTROLS = ("\x1b", "\x07", "\r", "\u202e")


def _hostile_history(database_url, tmp_path):
    """The web tests' history, with fetched fields as a hostile server could make them; its config file."""
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import Document, Event, ExpectationMet, Version
    from tests.support.history import GUIDANCE, build_history

    history = build_history(database_url, tmp_path)
    doc_id = history.documents[GUIDANCE]
    with session_scope(history.engine) as session:
        document = session.get(Document, doc_id)
        document.title, document.url = HOSTILE_TITLE, HOSTILE_URL
        for version in session.exec(select(Version).where(Version.document_id == doc_id)):
            version.final_url = HOSTILE_URL
        event = session.get(Event, history.events["negation"])
        event.reasons = [HOSTILE_REASON]
        event.summary = HOSTILE_REASON
        session.add(
            ExpectationMet(name="gp10", met_at=event.detected_at, document_id=doc_id, version=3, event_id=event.id)
        )
    history.engine.dispose()  # the commands open their own
    path = tmp_path / "hostile.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n'
        f'[[sources]]\nname = "bis"\nkind = "page"\nurl = "{GUIDANCE}"\n'
        '[[expectations]]\nname = "gp10"\ntitle = "GP10 guidance"\nmatch_any = ["GP10"]\n'
    )
    return path, doc_id


def _assert_escaped(output: str, lines_kept: bool = True) -> None:
    for control in CONTROLS:
        assert control not in output, f"{control!r} reached the terminal"
    if lines_kept:
        assert "\nbis: ok, 99 fetched" not in output  # no forged line
    assert "\\x1b[2J" in output or "\\n" in output


def test_fetched_text_reaches_the_terminal_escaped(tmp_path, database_url):
    path, doc_id = _hostile_history(database_url, tmp_path)
    for command in (
        ["changes"],
        ["documents"],
        ["expectations"],
        ["history", str(doc_id)],
        ["diff", str(doc_id)],
        ["diff", str(doc_id), "--format", "text"],
        ["diff", str(doc_id), "--format", "html"],
        ["search", "exporters"],
    ):
        result = run("--config", str(path), *command)
        assert result.exit_code == 0, (command, result.output)
        # In an HTML file a newline is only a space; the other controls are escaped there too.
        _assert_escaped(result.output, lines_kept="html" not in command)
    diff = run("--config", str(path), "diff", str(doc_id), "--format", "text").output
    assert "Rule\\x1b[2J\\x1b]0;owned\\x07 of \\u202eexports" in diff


def test_json_output_keeps_fetched_text_exact(tmp_path, database_url):
    path, doc_id = _hostile_history(database_url, tmp_path)
    changes = json.loads(run("--config", str(path), "changes", "--json").output)
    assert HOSTILE_TITLE in [c["document"]["title"] for c in changes]
    assert HOSTILE_REASON in [r for c in changes for r in c["reasons"]]
    documents = json.loads(run("--config", str(path), "documents", "--json").output)
    assert HOSTILE_URL in [d["url"] for d in documents]
    history = json.loads(run("--config", str(path), "history", str(doc_id), "--json").output)
    assert history[-1]["final_url"] == HOSTILE_URL
    hits = json.loads(run("--config", str(path), "search", "exporters", "--json").output)
    assert HOSTILE_TITLE in [h["document"]["title"] for h in hits]


def test_check_summary_and_errors_are_escaped(tmp_path, database_url, monkeypatch):
    import tracker.crawl.launch
    from tracker.crawl.launch import SourceResult

    path = tmp_path / "r.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n[[sources]]\nname = "bis"\nkind = "page"\nurl = "http://127.0.0.1:9/"\n'
    )
    failed = SourceResult(name="bis", status="failed", failures=[f"{HOSTILE_URL}: HTTP 500 {HOSTILE_REASON}"])
    monkeypatch.setattr(tracker.crawl.launch, "run_check", lambda config, engine, names: [failed])
    result = run("--config", str(path), "check")
    _assert_escaped(result.output)
    lines = result.output.splitlines()
    assert any(line.startswith("bis: FAILED") for line in lines)
    assert any(line.startswith("  1 failure(s); first: https://www.bis.gov/x\\nbis: ok") for line in lines)

    error = run("--config", str(path), "diff", "\x1b]0;owned\x07")
    assert error.exit_code == 2 and "\x1b" not in error.output and "\x07" not in error.output


def test_numbers_too_large_for_the_database_are_one_line_errors(tmp_path, database_url):
    from tests.support.history import GUIDANCE, build_history

    history = build_history(database_url, tmp_path)
    history.engine.dispose()  # the commands open their own
    doc = str(history.documents[GUIDANCE])
    path = tmp_path / "r.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    huge, over_int32 = "99999999999999999999", str(2**31)
    for command in (
        ["history", huge],
        ["history", over_int32],
        ["history", "\u00b2"],
        ["diff", huge],
        ["diff", doc, "--from", "2**70"],
        ["diff", doc, "--from", str(2**70)],
        ["diff", doc, "--to", over_int32],
        ["diff", doc, "--from", "-1"],
        ["changes", "--limit", huge],
        ["changes", "--limit", "1e30"],
    ):
        result = run("--config", str(path), *command)
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, (command, result.output)
    assert run("--config", str(path), "diff", doc, "--from", "1", "--to", "2").exit_code == 0
    assert run("--config", str(path), "changes", "--limit", "2").exit_code == 0


# -- a database that cannot be written ------------------------------------------------------------


def _read_only(database_url: str):
    """The database, migrated, then made read-only in a way that stops root too: its URL, and an undo."""
    import shutil
    import subprocess

    from storage.db import open_database

    open_database(database_url).dispose()
    if database_url.startswith("postgresql"):
        return database_url + "%20-cdefault_transaction_read_only%3Don", lambda: None
    path = database_url.removeprefix("sqlite:///")
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", path], capture_output=True).returncode == 0:
        return database_url, lambda: subprocess.run([chattr, "-i", path], capture_output=True)
    # No immutable files on this filesystem: SQLite's own read-only mode refuses writes the same way.
    return f"sqlite:///file:{path}?mode=ro&uri=true", lambda: None


def _one_error_line(result, what: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the database "), result.output
    assert f" is {what}: " in lines[0] and "Traceback" not in result.output


def test_read_only_database_is_one_line_and_exit_2(tmp_path, database_url, server):
    import os
    import subprocess
    import sys

    url, undo = _read_only(database_url)
    path = tmp_path / "r.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[web]\nport = 9\n'
        f'[[sources]]\nname = "guidance"\nkind = "page"\nurl = "{server.url("/page")}"\n'
    )
    try:
        _one_error_line(run("--config", str(path), "check"), "read-only")
        _one_error_line(run("--config", str(path), "subscribe", "legal@example.com"), "read-only")
        project = PROJECT_ROOT
        service = subprocess.run(
            [sys.executable, "-m", "tracker.cli", "--config", str(path), "run"],
            env={**os.environ, "PYTHONPATH": str(project)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert service.returncode == 2, service.stderr
        assert service.stderr.startswith("error: the database ") and " is read-only: " in service.stderr
        assert service.stderr.count("\n") == 1, service.stderr
    finally:
        undo()


def test_full_database_is_one_line_and_exit_2(tmp_path, server):
    """SQLite's max_page_count makes the database full at its current size, as a full disk would."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from storage.db import open_database

    url = f"sqlite:///{tmp_path / 'full.db'}"
    open_database(url).dispose()
    path = tmp_path / "r.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[[sources]]\nname = "guidance"\nkind = "page"\nurl = "{server.url("/page")}"\n'
    )

    def full(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Engine, "connect", full)
    try:
        _one_error_line(run("--config", str(path), "check"), "full")
        # Many subscribers need new pages: the write itself fails with SQLITE_FULL.
        for n in range(200):
            result = run("--config", str(path), "subscribe", f"analyst{n}.{'x' * 200}@example.com")
            if result.exit_code != 0:
                break
        _one_error_line(result, "full")
    finally:
        event.remove(Engine, "connect", full)


def test_database_errors_name_the_problem():
    from types import SimpleNamespace

    from storage.db import database_error

    def wrapped(**orig):
        return SimpleNamespace(orig=SimpleNamespace(**orig))

    url = "postgresql+psycopg://rulewatch:secret@db.example/rulewatch"
    assert " is read-only: " in str(database_error(wrapped(sqlstate="25006"), url))
    assert " is full: " in str(database_error(wrapped(sqlstate="53100"), url))
    assert " is full: " in str(database_error(wrapped(sqlite_errorcode=13), "sqlite:///x.db"))
    assert " is read-only: " in str(database_error(wrapped(sqlite_errorcode=8 | (1 << 8)), "sqlite:///x.db"))
    assert "secret" not in str(database_error(wrapped(sqlstate="25006"), url))


# --- adversarial pass (issue 10): what still breaks --------------------------------------


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"])
def test_a_since_past_the_calendar_is_one_line_and_exit_2(tmp_path, database_url, moment):
    path = tmp_path / "r.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    result = run("--config", str(path), "changes", "--since", moment)
    assert result.exit_code == 2 and result.output.startswith("error: --since: ")
    assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_since_at_the_calendars_edge_in_utc_is_still_usable(tmp_path, database_url):
    path = tmp_path / "r.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    for moment in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+00:00", "2026-11-25"):
        result = run("--config", str(path), "changes", "--since", moment)
        assert result.exit_code == 0 and "No events yet" in result.output, (moment, result.output)


def test_diff_collapses_a_long_redline_and_context_expands_it(tmp_path, database_url):
    from storage.db import session_scope
    from storage.repository import find_document
    from tests.support.history import Checks, build_history

    history = build_history(database_url, tmp_path)
    paragraphs = [f"<p>({k}) Paragraph number {k} of a long regulation.</p>" for k in range(80)]
    url = "https://www.bis.gov/long-rule"
    Checks(history).run("bis", (url, f"<html><body><main>{''.join(paragraphs)}</main></body></html>".encode()))
    paragraphs[40] = "<p>(40) Paragraph number 40 of a long, revised regulation.</p>"
    Checks(history).run("bis", (url, f"<html><body><main>{''.join(paragraphs)}</main></body></html>".encode()))
    with session_scope(history.engine) as session:
        document_id = str(find_document(session, url).id)
    path = tmp_path / "cli.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    config = ["--config", str(path)]

    collapsed = run(*config, "diff", document_id).output
    assert "unchanged paragraphs" in collapsed and "(10) Paragraph number 10" not in collapsed
    assert "(10) Paragraph number 10" in run(*config, "diff", document_id, "--context", "all").output
    tight = run(*config, "diff", document_id, "--context", "0").output
    assert "(39) Paragraph number 39" not in tight and "{+, revised+}" in tight
    assert run(*config, "diff", document_id, "--context", "many").exit_code == 2


# -- the quick read path (storage.plain) -------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_history(tmp_path_factory):
    from tests.support.history import build_history

    folder = tmp_path_factory.mktemp("quick")
    history = build_history(f"sqlite:///{folder / 'rulewatch.db'}", folder)
    history.engine.dispose()
    config = folder / "rulewatch.toml"
    config.write_text(f'[database]\nurl = "{history.config.database_url}"\n')
    # A review with notes, which `changes --json` shows on both paths.
    assert run("--config", str(config), "users", "add", "legal@example.com", "--role", "reviewer").exit_code == 0
    negation = str(history.events["negation"])
    for status, note in (("in_review", "Looking <b>now</b>."), ("reviewed", "Negation confirmed.")):
        reviewed = run(
            "--config", str(config), "review", negation, "--status", status, "--note", note, "--as", "legal@example.com"
        )
        assert reviewed.exit_code == 0, reviewed.output
    return history, str(config)


@pytest.mark.parametrize(
    "command",
    [
        ["changes", "--json"],
        ["changes", "--json", "--limit", "2"],
        ["changes", "--json", "--source", "fr"],
        ["changes", "--json", "--severity", "minor", "--since", "2000-01-01"],
        ["changes"],
        ["changes", "--source", "nope"],
        ["diff", "{guidance}", "--format", "json"],
        ["diff", "{guidance}", "--from", "1", "--to", "2", "--format", "json"],
        ["diff", "{guidance}", "--from", "1", "--to", "3", "--format", "json"],
        ["diff", "{guidance}", "--from", "3", "--to", "9", "--format", "json"],
        ["diff", "{notice_url}", "--format", "json"],
    ],
)
def test_the_quick_path_answers_as_the_full_one(sqlite_history, monkeypatch, command):
    from storage import plain
    from tests.support.history import GUIDANCE, NOTICE

    history, config = sqlite_history
    args = [a.format(guidance=history.documents[GUIDANCE], notice_url=NOTICE) for a in command]
    quick = run("--config", config, *args)
    monkeypatch.setattr(plain, "open_plain", lambda url: None)
    full = run("--config", config, *args)
    assert (quick.exit_code, quick.output) == (full.exit_code, full.output)
    if "9" not in args and "nope" not in args:  # the two that ask for what is not there
        assert quick.exit_code == 0
        if "json" in args or "--json" in args:
            assert json.loads(quick.output)
    if args == ["changes", "--json"]:
        [reviewed] = [e for e in json.loads(quick.output) if e["id"] == history.events["negation"]]
        assert reviewed["review"]["status"] == "reviewed" and reviewed["review"]["by"] == "legal@example.com"
        assert [n["text"] for n in reviewed["review"]["notes"]] == ["Looking <b>now</b>.", "Negation confirmed."]


def test_quick_commands_load_no_sqlalchemy(sqlite_history):
    import subprocess
    import sys

    from tests.support.history import GUIDANCE

    history, config = sqlite_history
    faces = ("scrapy", "fastapi", "tracker.web.app", "tracker.alerts.sender")
    commands = [
        (["--help"], ("sqlalchemy", "sqlmodel", *faces)),
        (["changes", "--json", "--limit", "100"], ("sqlalchemy", "sqlmodel", *faces)),
        (["changes", "--since", "2026-01-01", "--severity", "minor"], ("sqlalchemy", "sqlmodel", *faces)),
        (["diff", str(history.documents[GUIDANCE]), "--format", "json"], ("sqlalchemy", "sqlmodel", *faces)),
        (["documents", "--json"], faces),
        (["history", str(history.documents[GUIDANCE])], faces),
    ]
    for command, unwanted in commands:
        script = (
            "import sys\nfrom tracker.cli import app\n"
            f"try:\n    app({['--config', config, *command]!r})\nexcept SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n"
            f"loaded = sorted(m for m in {unwanted!r} if m in sys.modules)\n"
            "print('LOADED', loaded, file=sys.stderr)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT)
        assert done.returncode == 0, done.stderr
        assert "LOADED []" in done.stderr, (command, done.stderr)


def test_the_service_loads_what_exports_feeds_and_channels_need_only_when_used():
    """Each library held for the whole life of `rulewatch run` is memory a poll never uses
    (issue 12's memory goal): exports, feeds, webhooks and Apprise load on first use."""
    import subprocess
    import sys

    on_demand = ("docx", "warcio", "feedgen", "httpx", "apprise")
    script = (
        "import sys\nimport tracker.cli, tracker.web.app, tracker.service.scheduler, tracker.crawl.warm_worker\n"
        f"print('LOADED', sorted(m for m in {on_demand!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout
