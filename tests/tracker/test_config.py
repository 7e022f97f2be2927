from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tracker.config import InvalidEmail, load_config, normalize_email, parse_duration
from tracker.hosts import parse_host
from tracker.settings import ConfigError

REPO_CONFIG = PROJECT_ROOT / "config" / "rulewatch.toml"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rulewatch.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_shipped_default_configuration_loads():
    config = load_config(REPO_CONFIG)
    kinds = {s.name: s.kind for s in config.sources}
    assert kinds["federal-register"] == "federal_register"
    assert kinds["ear"] == "ecfr"
    assert {"gp10-guidance", "replacement-rule"} <= {e.name for e in config.expectations}
    assert config.source("ear").interval == 6 * 3600


def test_relative_sqlite_path_resolves_beside_the_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RULEWATCH_DATABASE_URL", raising=False)
    config = load_config(write(tmp_path, '[database]\nurl = "sqlite:///var/rulewatch.db"\n'))
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'rulewatch.db'}"


def test_absolute_sqlite_path_and_postgres_urls_stay(tmp_path, monkeypatch):
    monkeypatch.delenv("RULEWATCH_DATABASE_URL", raising=False)
    config = load_config(write(tmp_path, '[database]\nurl = "sqlite:////srv/r.db"\n'))
    assert config.database_url == "sqlite:////srv/r.db"
    monkeypatch.setenv("RULEWATCH_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_config(write(tmp_path, "")).database_url == "postgresql+psycopg://u@h/db"


def test_environment_overrides_smtp(tmp_path, monkeypatch):
    monkeypatch.setenv("RULEWATCH_SMTP_HOST", "mail.internal")
    monkeypatch.setenv("RULEWATCH_SMTP_PORT", "2525")
    config = load_config(write(tmp_path, '[mail]\nsmtp_host = "localhost"\nsmtp_port = 25\n'))
    assert (config.mail.smtp_host, config.mail.smtp_port) == ("mail.internal", 2525)


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "[web]\nport = 8123\n")
    monkeypatch.setenv("RULEWATCH_CONFIG", str(path))
    assert load_config().web.port == 8123


@pytest.mark.parametrize(
    "body, key, words",
    [
        ("[databse]\n", "databse", "unknown key"),
        ('[[sources]]\nname = "a"\nkind = "pager"\nurl = "http://x"\n', "sources.a.kind", "unknown kind"),
        ('[[sources]]\nname = "a"\nkind = "page"\n', "sources.a.url", "required"),
        ('[[sources]]\nname = "a"\nkind = "page"\nurl = "ftp://x"\n', "sources.a.url", "http(s) URL"),
        (
            '[[sources]]\nname = "a"\nkind = "page"\nurl = "http://x"\ninterval = "soon"\n',
            "sources.a.interval",
            "invalid duration",
        ),
        (
            '[[sources]]\nname = "a"\nkind = "page"\nurl = "http://x"\nselectr = "main"\n',
            "sources.a.selectr",
            "unknown key",
        ),
        (
            '[[sources]]\nname = "a"\nkind = "site"\nstart_urls = ["http://x"]\nfollow = ["("]\n',
            "sources.a.follow",
            "regular expression",
        ),
        (
            '[[sources]]\nname = "a"\nkind = "page"\nurl = "http://x"\n[[sources]]\nname = "a"\nkind = "page"\nurl = "http://y"\n',
            "sources.name",
            "used twice",
        ),
        ('[[expectations]]\nname = "e"\ntitle = "t"\n', "expectations.e", "at least one"),
        ('[[expectations]]\nname = "e"\nrin = "1"\nsources = ["nope"]\n', "expectations.e.sources", "unknown source"),
        ('[[subscribers]]\nemail = "a@b.c"\ndigest = "hourly"\n', "subscribers[0].digest", "expected one of"),
        (
            '[[subscribers]]\nemail = "a@b.c"\nmin_severity = "cosmetic"\n',
            "subscribers[0].min_severity",
            "expected one of",
        ),
        (
            '[[sources]]\nname = "a"\nkind = "page"\nurl = "http://x"\nselector = "main >> p"\n',
            "sources.a.selector",
            "invalid CSS selector",
        ),
        ('[[subscribers]]\nemail = "legal@"\n', "subscribers[0].email", "invalid email address"),
        ('[[admins]]\nemail = "ops@example..com"\n', "admins[0].email", "invalid email address"),
        ("[fetch]\ntimeout = -1\n", "fetch.timeout", "expected a number"),
        ('[web]\nport = "80"\n', "web.port", "expected a number"),
        ("this is = = not toml", "", "not valid TOML"),
    ],
)
def test_a_wrong_key_or_value_is_one_line_naming_file_and_key(tmp_path, body, key, words):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert key in message and words in message


def test_addresses_have_one_normal_form(tmp_path):
    """Admins from the config, and subscribers however added, are held in the same form."""
    config = load_config(write(tmp_path, '[[admins]]\nemail = " Ops@Example.COM "\n'))
    assert [admin.email for admin in config.admins] == ["ops@example.com"]
    assert normalize_email("Ops@EXAMPLE.com\n") == "ops@example.com"
    with pytest.raises(InvalidEmail, match="invalid email address 'ops@'"):
        normalize_email("ops@")


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="--config PATH or set RULEWATCH_CONFIG"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), (45, 45), ("2", 2)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_admin_token_from_the_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("RULEWATCH_ADMIN_TOKEN", raising=False)
    assert load_config(write(tmp_path, "")).web.admin_token == ""  # admin pages off
    path = write(tmp_path, '[web]\nadmin_token = "from-file"\n')
    assert load_config(path).web.admin_token == "from-file"
    monkeypatch.setenv("RULEWATCH_ADMIN_TOKEN", "from-env")
    assert load_config(path).web.admin_token == "from-env"


@pytest.mark.parametrize(
    "source, key, words",
    [
        (
            'kind = "site"\nstart_urls = ["https://www.bis.gov/"]\nhosts = ["https://www.bis.gov/"]',
            "sources.a.hosts",
            "host or host:port",
        ),
        (
            'kind = "site"\nstart_urls = ["https://www.bis.gov/"]\nhosts = ["www.bis.gov:99999"]',
            "sources.a.hosts",
            "port",
        ),
        (
            'kind = "site"\nstart_urls = ["https://www.bis.gov/"]\nhosts = ["www.bis.gov:"]',
            "sources.a.hosts",
            "host or host:port",
        ),
        (
            'kind = "site"\nstart_urls = ["https://www.bis.gov/"]\nhosts = ["a b"]',
            "sources.a.hosts",
            "host or host:port",
        ),
        ('kind = "site"\nstart_urls = ["https://www.bis.gov:0/"]', "sources.a.start_urls", "port"),
        ('kind = "page"\nurl = "http://127.0.0.1:65536/x"', "sources.a.url", "port"),
        ('kind = "page"\nurl = "http://[::1/x"', "sources.a.url", "http(s) URL"),
        ('kind = "ecfr"\nparts = ["744"]\nbase_url = "https://www.ecfr.gov:https"', "sources.a.base_url", "port"),
    ],
)
def test_hosts_and_ports_are_checked(tmp_path, source, key, words):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, f'[[sources]]\nname = "a"\n{source}\n'))
    assert f"{key}:" in str(error.value) and words in str(error.value)


def test_hosts_are_read_as_host_and_port():
    assert parse_host("WWW.BIS.gov") == ("www.bis.gov", None)
    assert parse_host("www.bis.gov.:8443") == ("www.bis.gov", 8443)
    assert parse_host("[::1]:8080") == ("::1", 8080)
    assert parse_host("bücher.example") == ("xn--bcher-kva.example", None)
    for bad in ("", "http://x", "x/y", "x:0", "x:65536", "[::1", "[zz]:80", "a@b", "x:8080:1"):
        with pytest.raises(ValueError):
            parse_host(bad)
