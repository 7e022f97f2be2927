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
