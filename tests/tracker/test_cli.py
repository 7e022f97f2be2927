"""Command-line behaviour that does not need a crawl: errors and empty states."""

from typer.testing import CliRunner

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
        f'[database]\nurl = "{database_url}"\n'
        '[[sources]]\nname = "bis"\nkind = "page"\nurl = "http://127.0.0.1:9/"\n'
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
