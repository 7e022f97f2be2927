"""[[channels]] in the configuration: validated on load, made ready (variables, Apprise) when a
command that sends starts, and never quoting a channel's URL, whose tokens are secrets."""

import hashlib
import hmac
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.alerts.channels import channel_targets
from tracker.alerts.webhook import outcome_of, signature, webhook_body
from tracker.cli import app
from tracker.config import load_config
from tracker.settings import ConfigError

TOKEN = "T0KEN-abc123xyz"
SOURCES = """
[[sources]]
name = "bis"
kind = "page"
url = "https://www.bis.gov/guidance"

[[expectations]]
name = "gp10"
match_any = ["GP10"]
"""


def write(tmp_path: Path, channels: str) -> Path:
    path = tmp_path / "rulewatch.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/r.db"\n' + SOURCES + channels, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "channels, key, words",
    [
        (
            f'[[channels]]\nname = "c"\nurl = "https://hooks.example.com/{TOKEN}"\nurl_env = "X"\n',
            "channels.c",
            "not both",
        ),
        ('[[channels]]\nname = "c"\n', "channels.c", 'give url = "…"'),
        (
            f'[[channels]]\nname = "c"\nurl = "https://hooks.example.com/{TOKEN}"\n',
            "channels.c.url",
            "a https:// URL is a signed webhook: add secret_env",
        ),
        (
            f'[[channels]]\nname = "c"\nurl = "slack://{TOKEN}/B/C"\nsecret_env = "S"\n',
            "channels.c.url",
            "only webhooks (http(s) URLs) are signed",
        ),
        (f'[[channels]]\nname = "c"\nurl = "hooks.slack.com/{TOKEN}"\n', "channels.c.url", "must start with a scheme"),
        (
            f'[[channels]]\nname = "c"\nurl = "http:///{TOKEN}"\nsecret_env = "S"\n',
            "channels.c.url",
            "needs a host",
        ),
        (f'[[channels]]\nname = "c"\nurl = "json://x/{TOKEN} y"\n', "channels.c.url", "spaces or control"),
        ('[[channels]]\nname = "c"\nurl_env = "1-NOT-A-NAME"\n', "channels.c.url_env", "environment variable"),
        ('[[channels]]\nname = "c"\nurl = "json://x"\nsecret = "s"\n', "channels.c.secret", "unknown key"),
        (
            '[[channels]]\nname = "c"\nurl = "json://x"\nmin_severity = "cosmetic"\n',
            "channels.c.min_severity",
            "one of",
        ),
        ('[[channels]]\nname = "c"\nurl = "json://x"\nsources = ["nope"]\n', "channels.c.sources", "unknown source"),
        (
            '[[channels]]\nname = "c"\nurl = "json://x"\nexpectations = ["nope"]\n',
            "channels.c.expectations",
            "unknown expectation",
        ),
        ('[[channels]]\nname = "c d"\nurl = "json://x"\n', "channels[0].name", "invalid name"),
        (
            '[[channels]]\nname = "c"\nurl = "json://x"\n[[channels]]\nname = "c"\nurl = "json://y"\n',
            "channels.name",
            "used twice",
        ),
    ],
)
def test_a_wrong_channel_is_one_line_naming_the_key_and_never_its_url(tmp_path, channels, key, words):
    path = write(tmp_path, channels)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    assert f"{key}:" in message and words in message
    assert TOKEN not in message


def test_a_url_from_the_environment_is_checked_on_load_when_it_is_set(tmp_path, monkeypatch):
    path = write(tmp_path, '[[channels]]\nname = "c"\nurl_env = "RULEWATCH_TEST_CHANNEL"\n')
    monkeypatch.setenv("RULEWATCH_TEST_CHANNEL", f"https://hooks.example.com/{TOKEN}")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "channels.c.url_env: the URL in $RULEWATCH_TEST_CHANNEL: a https:// URL is a signed webhook" in message
    assert TOKEN not in message

    monkeypatch.setenv("RULEWATCH_TEST_CHANNEL", f"slack://{TOKEN}/B/C")
    [channel] = load_config(path).channels
    assert (channel.scheme, channel.url, channel.is_webhook) == ("slack", f"slack://{TOKEN}/B/C", False)
    assert channel.shown == "c (slack://…)"
    assert TOKEN not in repr(channel)


def test_the_keys_as_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("RULEWATCH_TEST_SECRET", "s3cret")
    config = load_config(
        write(
            tmp_path,
            """
            [[channels]]
            name = "grc-webhook"
            url = "https://grc.example.com/hooks/rulewatch"
            secret_env = "RULEWATCH_TEST_SECRET"
            sources = ["bis"]
            expectations = ["gp10"]
            min_severity = "minor"
            """,
        )
    )
    [channel] = config.channels
    assert (channel.name, channel.scheme, channel.is_webhook, channel.secret) == (
        "grc-webhook",
        "https",
        True,
        "s3cret",
    )
    assert (channel.sources, channel.expectations, channel.min_severity) == (("bis",), ("gp10",), "minor")
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    "channels, environment, key, words",
    [
        (
            '[[channels]]\nname = "legal-slack"\nurl_env = "RULEWATCH_TEST_UNSET"\n',
            {},
            "channels.legal-slack.url_env",
            "the environment variable RULEWATCH_TEST_UNSET is not set",
        ),
        (
            '[[channels]]\nname = "hook"\nurl = "https://grc.example.com/hook"\nsecret_env = "RULEWATCH_TEST_UNSET"\n',
            {},
            "channels.hook.secret_env",
            "the environment variable RULEWATCH_TEST_UNSET is not set",
        ),
        (
            f'[[channels]]\nname = "team"\nurl = "slack://{TOKEN}"\n',
            {},
            "channels.team.url",
            "Apprise cannot use this slack:// URL",
        ),
        (
            '[[channels]]\nname = "team"\nurl_env = "RULEWATCH_TEST_CHANNEL"\n',
            {"RULEWATCH_TEST_CHANNEL": f"nosuchservice://{TOKEN}"},
            "channels.team.url_env",
            "Apprise cannot use this nosuchservice:// URL",
        ),
    ],
)
def test_what_only_sending_can_check_is_a_clear_error_when_a_sending_command_starts(
    tmp_path, monkeypatch, channels, environment, key, words
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    path = write(tmp_path, channels)
    config = load_config(path)  # commands that send nothing (changes, diff, serve) still work
    with pytest.raises(ConfigError) as caught:
        channel_targets(config)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: {words}") and TOKEN not in message

    for command in (["check"], ["send"], ["run"]):
        result = CliRunner().invoke(app, ["--config", str(path), *command])
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: {message}"
    assert CliRunner().invoke(app, ["--config", str(path), "changes", "--json"]).exit_code == 0


def test_channels_that_are_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("RULEWATCH_TEST_SECRET", "s3cret")
    config = load_config(
        write(
            tmp_path,
            """
            [[channels]]
            name = "hook"
            url = "http://127.0.0.1:9/hook"
            secret_env = "RULEWATCH_TEST_SECRET"

            [[channels]]
            name = "room"
            url = "json://127.0.0.1:9/room"
            """,
        )
    )
    targets = channel_targets(config)
    assert targets["hook"].notifier is None
    assert len(targets["room"].notifier) == 1  # one Apprise service


@pytest.mark.parametrize(
    "status, outcome",
    [
        (200, "sent"),
        (204, "sent"),
        (301, "retry"),  # redirects are never followed: a moved webhook is retried, then fails, and shows
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (408, "retry"),
        (410, "failed"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_what_a_webhook_answer_means(status, outcome):
    assert outcome_of(status) == outcome


def test_the_signature_is_the_hmac_of_the_exact_body():
    body = webhook_body({"id": 7, "title": "§ 744.23 <b>"})
    assert body == b'{"id":7,"title":"\\u00a7 744.23 <b>"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature("s3cret", body) == f"sha256={expected}"
