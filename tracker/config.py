"""Loading and validating the TOML configuration into tracker.settings' values.

Every key is checked on load; a wrong key or value is one `ConfigError` line that
names the file and the key, never a traceback. A source's keys are its kind's config
dataclass (tracker.kinds): validation follows from its fields.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from cssselect import HTMLTranslator, SelectorError
from email_validator import EmailNotValidError, validate_email

from tracker.config_file import resolve_config_path, resolve_sqlite_path
from tracker.hosts import parse_host
from tracker.kinds import KINDS
from tracker.settings import (
    DEFAULT_DATABASE_URL,
    WEBHOOK_SCHEMES,
    AdminConfig,
    ChannelConfig,
    ClusterConfig,
    Config,
    ConfigError,
    Digest,
    ExpectationConfig,
    FetchConfig,
    MailConfig,
    Severity,
    SourceConfig,
    SubscriberConfig,
    WebConfig,
)

SEVERITIES = tuple(Severity)
DIGESTS = tuple(Digest)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def parse_duration(value: Any) -> int:
    """'15m' -> 900. Plain numbers are seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '15m', '6h' or '1d'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"invalid duration {value!r}; use e.g. '30s', '15m', '6h', '1d'")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 1:
        raise ValueError("a duration must be at least 1 second")
    return int(seconds)


class InvalidEmail(ValueError):
    """Not an e-mail address; the message says why."""


def normalize_email(address: str) -> str:
    """The one check of an e-mail address (config, CLI, web forms): validated, then lower-cased,
    since case-sensitive local parts exist in the RFC, not in practice, and one person must not
    become two subscribers."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidEmail(f"invalid email address {address!r}: {exc}") from None


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    path = resolve_config_path(explicit)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found; pass --config PATH or set RULEWATCH_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    reader = _Reader(path)
    reader.only_keys(
        raw,
        "",
        {"database", "fetch", "mail", "web", "sources", "expectations", "subscribers", "admins", "cluster", "channels"},
    )
    base_dir = path.resolve().parent

    database = reader.table(raw, "database")
    reader.only_keys(database, "database", {"url"})
    database_url = os.environ.get("RULEWATCH_DATABASE_URL") or reader.string(
        database, "database", "url", DEFAULT_DATABASE_URL
    )
    database_url = resolve_sqlite_path(database_url, base_dir)

    fetch = _parse_fetch(reader, reader.table(raw, "fetch"))
    mail = _parse_mail(reader, reader.table(raw, "mail"))
    web = _parse_web(reader, reader.table(raw, "web"))

    sources = tuple(
        _parse_source(reader, item, f"sources[{i}]") for i, item in enumerate(reader.array_of_tables(raw, "sources"))
    )
    _no_duplicates(reader, [s.name for s in sources], "sources", "name")
    source_names = {s.name for s in sources}

    expectations = tuple(
        _parse_expectation(reader, item, f"expectations[{i}]", source_names)
        for i, item in enumerate(reader.array_of_tables(raw, "expectations"))
    )
    _no_duplicates(reader, [e.name for e in expectations], "expectations", "name")
    expectation_names = {e.name for e in expectations}

    subscribers = tuple(
        _parse_subscriber(reader, item, f"subscribers[{i}]", source_names, expectation_names)
        for i, item in enumerate(reader.array_of_tables(raw, "subscribers"))
    )
    admins = tuple(
        _parse_admin(reader, item, f"admins[{i}]") for i, item in enumerate(reader.array_of_tables(raw, "admins"))
    )
    channels = tuple(
        _parse_channel(reader, item, f"channels[{i}]", source_names, expectation_names)
        for i, item in enumerate(reader.array_of_tables(raw, "channels"))
    )
    _no_duplicates(reader, [c.name for c in channels], "channels", "name")
    cluster = _parse_cluster(reader, raw, path, database_url)
    return Config(
        admins=admins,
        channels=channels,
        cluster=cluster,
        path=path,
        database_url=database_url,
        fetch=fetch,
        mail=mail,
        web=web,
        sources=sources,
        expectations=expectations,
        subscribers=subscribers,
    )


def _parse_fetch(reader: _Reader, table: dict) -> FetchConfig:
    reader.only_keys(
        table,
        "fetch",
        {"user_agent", "timeout", "max_bytes", "obey_robots", "delay", "retries", "retry_after_max", "document_budget"},
    )
    defaults = FetchConfig()
    return FetchConfig(
        user_agent=reader.string(table, "fetch", "user_agent", defaults.user_agent),
        timeout=reader.number(table, "fetch", "timeout", defaults.timeout, minimum=0.1),
        max_bytes=int(reader.number(table, "fetch", "max_bytes", defaults.max_bytes, minimum=1024)),
        obey_robots=reader.boolean(table, "fetch", "obey_robots", defaults.obey_robots),
        delay=reader.number(table, "fetch", "delay", defaults.delay, minimum=0),
        retries=int(reader.number(table, "fetch", "retries", defaults.retries, minimum=0)),
        retry_after_max=reader.duration(table, "fetch", "retry_after_max", defaults.retry_after_max),
        document_budget=reader.duration(table, "fetch", "document_budget", defaults.document_budget),
    )


def _parse_mail(reader: _Reader, table: dict) -> MailConfig:
    reader.only_keys(table, "mail", {"smtp_host", "smtp_port", "sender", "starttls", "ssl", "username", "password"})
    defaults = MailConfig()
    port_from_env = os.environ.get("RULEWATCH_SMTP_PORT")
    port = reader.number(table, "mail", "smtp_port", defaults.smtp_port, minimum=1)
    if port_from_env:
        if not port_from_env.isdigit():
            raise ConfigError(f"RULEWATCH_SMTP_PORT: expected a port number, got {port_from_env!r}")
        port = int(port_from_env)
    return MailConfig(
        smtp_host=os.environ.get("RULEWATCH_SMTP_HOST")
        or reader.string(table, "mail", "smtp_host", defaults.smtp_host),
        smtp_port=int(port),
        sender=reader.string(table, "mail", "sender", defaults.sender),
        starttls=reader.boolean(table, "mail", "starttls", False),
        ssl=reader.boolean(table, "mail", "ssl", False),
        username=reader.string(table, "mail", "username", ""),
        password=os.environ.get("RULEWATCH_SMTP_PASSWORD") or reader.string(table, "mail", "password", ""),
    )


def _parse_web(reader: _Reader, table: dict) -> WebConfig:
    reader.only_keys(table, "web", {"host", "port", "base_url", "secret_key", "admin_token"})
    defaults = WebConfig()
    host = reader.string(table, "web", "host", defaults.host)
    port = int(reader.number(table, "web", "port", defaults.port, minimum=1))
    return WebConfig(
        host=host,
        port=port,
        base_url=reader.string(table, "web", "base_url", f"http://{host}:{port}").rstrip("/"),
        secret_key=os.environ.get("RULEWATCH_SECRET_KEY") or reader.string(table, "web", "secret_key", ""),
        admin_token=os.environ.get("RULEWATCH_ADMIN_TOKEN") or reader.string(table, "web", "admin_token", ""),
    )


def _parse_cluster(reader: _Reader, raw: dict, path: Path, database_url: str) -> ClusterConfig | None:
    if "cluster" not in raw:
        return None
    table = reader.table(raw, "cluster")
    reader.only_keys(table, "cluster", {"nodes", "project", "node_config", "batch_size", "node_timeout"})
    if "nodes" not in table:
        raise reader.error("cluster.nodes", 'required: the Scrapyd nodes\' URLs, e.g. ["http://10.0.0.5:6800"]')
    nodes = tuple(node.rstrip("/") for node in reader.strings(table, "cluster", "nodes"))
    if not nodes:
        raise reader.error("cluster.nodes", "list at least one Scrapyd node, or remove [cluster] to crawl here")
    for i, node in enumerate(nodes):
        reader.validate_url(f"cluster.nodes[{i}]", node)
    _no_duplicates(reader, list(nodes), "cluster", "nodes")
    if not database_url.startswith("postgresql"):
        raise reader.error("cluster", "Scrapyd nodes must share the database: set [database] url to a PostgreSQL URL")
    try:
        node_timeout = parse_duration(table.get("node_timeout", 30))
    except ValueError as exc:
        raise reader.error("cluster.node_timeout", str(exc)) from None
    return ClusterConfig(
        nodes=nodes,
        project=reader.string(table, "cluster", "project", "rulewatch"),
        node_config=reader.string(table, "cluster", "node_config", str(path.resolve())),
        batch_size=int(reader.number(table, "cluster", "batch_size", 25, minimum=1)),
        node_timeout=node_timeout,
    )


def _parse_source(reader: _Reader, table: Any, where: str) -> SourceConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[sources]])")
    name = reader.string(table, where, "name", None)
    if not _SOURCE_NAME.match(name):
        raise reader.error(f"{where}.name", f"invalid name {name!r}: use letters, digits, '-', '_' or '.'")
    where = f"sources.{name}"
    kind_name = reader.string(table, where, "kind", None)
    if kind_name not in KINDS:
        raise reader.error(f"{where}.kind", f"unknown kind {kind_name!r}; expected one of {', '.join(KINDS)}")
    kind = KINDS[kind_name]
    keys = {key.name: key for key in fields(kind.config)}
    reader.only_keys(table, where, set(keys))
    try:
        interval = parse_duration(table.get("interval", kind.default_interval))
    except ValueError as exc:
        raise reader.error(f"{where}.interval", str(exc)) from None
    values: dict[str, Any] = {"name": name, "kind": kind_name, "interval": interval}
    types = get_type_hints(kind.config)
    for key in keys.values():
        if key.name in values:
            continue
        if key.name not in table:
            if key.default is MISSING and key.default_factory is MISSING:
                raise reader.error(f"{where}.{key.name}", f"required for a {kind_name!r} source")
            continue
        values[key.name] = reader.value(table, where, key.name, types[key.name], key.metadata)
    try:
        return kind.config(**values)
    except ValueError as exc:  # a kind's own check of its keys together (its __post_init__)
        raise reader.error(where, str(exc)) from None


def _parse_expectation(reader: _Reader, table: Any, where: str, sources: set[str]) -> ExpectationConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[expectations]])")
    name = reader.string(table, where, "name", None)
    where = f"expectations.{name}"
    reader.only_keys(table, where, {"name", "title", "match_any", "match_all", "rin", "cfr_part", "sources"})
    expectation = ExpectationConfig(
        name=name,
        title=reader.string(table, where, "title", name),
        match_any=reader.strings(table, where, "match_any") if "match_any" in table else (),
        match_all=reader.strings(table, where, "match_all") if "match_all" in table else (),
        rin=reader.string(table, where, "rin", ""),
        cfr_part=reader.string(table, where, "cfr_part", ""),
        sources=reader.strings(table, where, "sources") if "sources" in table else (),
    )
    if not (expectation.match_any or expectation.match_all or expectation.rin or expectation.cfr_part):
        raise reader.error(where, "give at least one of match_any, match_all, rin or cfr_part")
    _known_names(reader, expectation.sources, sources, f"{where}.sources", "source")
    return expectation


def _parse_subscriber(
    reader: _Reader, table: Any, where: str, sources: set[str], expectations: set[str]
) -> SubscriberConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[subscribers]])")
    reader.only_keys(table, where, {"email", "sources", "expectations", "min_severity", "digest"})
    email = reader.string(table, where, "email", None)
    try:
        normalize_email(email)  # kept as written; the subscriber row holds the normalized form
    except InvalidEmail as exc:
        raise reader.error(f"{where}.email", str(exc)) from None
    subscriber = SubscriberConfig(
        email=email,
        sources=reader.strings(table, where, "sources") if "sources" in table else (),
        expectations=reader.strings(table, where, "expectations") if "expectations" in table else (),
        min_severity=reader.choice(table, where, "min_severity", ("minor", "substantive"), "substantive"),
        digest=reader.choice(table, where, "digest", DIGESTS, "off"),
    )
    _known_names(reader, subscriber.sources, sources, f"{where}.sources", "source")
    _known_names(reader, subscriber.expectations, expectations, f"{where}.expectations", "expectation")
    return subscriber


def _parse_channel(reader: _Reader, table: Any, where: str, sources: set[str], expectations: set[str]) -> ChannelConfig:
    """A [[channels]] entry. Its URL (and a webhook's secret) may carry tokens: no message quotes them."""
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[channels]])")
    name = reader.string(table, where, "name", None)
    if not _SOURCE_NAME.match(name):
        raise reader.error(f"{where}.name", f"invalid name {name!r}: use letters, digits, '-', '_' or '.'")
    where = f"channels.{name}"
    reader.only_keys(table, where, {"name", "url", "url_env", "secret_env", "sources", "expectations", "min_severity"})
    if ("url" in table) == ("url_env" in table):
        raise reader.error(
            where,
            'give url = "…" (an Apprise URL such as slack://…, or an http(s) webhook) '
            'or url_env = "VARIABLE" (the environment variable that holds it), not both',
        )
    url_env = _env_name(reader, table, where, "url_env")
    secret_env = _env_name(reader, table, where, "secret_env")
    if "url" in table:
        url, key, place = reader.string(table, where, "url", None), "url", "this URL"
    else:
        url, key, place = os.environ.get(url_env, "").strip(), "url_env", f"the URL in ${url_env}"
    if url:  # an unset url_env is said when alerts are sent (tracker.alerts.channels), not by every command
        problem = channel_url_problem(url, bool(secret_env))
        if problem:
            raise reader.error(f"{where}.{key}", f"{place}: {problem}")
    channel = ChannelConfig(
        name=name,
        scheme=url_scheme(url) if url else "",
        url=url,
        url_env=url_env,
        secret=os.environ.get(secret_env, "") if secret_env else "",
        secret_env=secret_env,
        sources=reader.strings(table, where, "sources") if "sources" in table else (),
        expectations=reader.strings(table, where, "expectations") if "expectations" in table else (),
        min_severity=reader.choice(table, where, "min_severity", ("minor", "substantive"), "substantive"),
    )
    _known_names(reader, channel.sources, sources, f"{where}.sources", "source")
    _known_names(reader, channel.expectations, expectations, f"{where}.expectations", "expectation")
    return channel


def _env_name(reader: _Reader, table: dict, where: str, key: str) -> str:
    name = reader.string(table, where, key, "")
    if key in table and not _ENV_NAME.match(name):
        raise reader.error(f"{where}.{key}", f"expected the name of an environment variable, got {name!r}")
    return name


def url_scheme(url: str) -> str:
    """A channel URL's scheme, lower-cased ("" when it has none)."""
    match = _URL_SCHEME.match(url)
    return match.group(1).lower() if match else ""


def channel_url_problem(url: str, signed: bool) -> str | None:
    """What is wrong with a channel's URL, said without quoting it; None when nothing is.

    `signed`: whether the channel names a secret (secret_env), which webhooks need and no other channel takes.
    """
    scheme = url_scheme(url)
    if not scheme:
        return "not a URL: it must start with a scheme, such as slack:// or https://"
    if any(character.isspace() or ord(character) < 32 or ord(character) == 127 for character in url):
        return "a URL cannot hold spaces or control characters"
    if scheme not in WEBHOOK_SCHEMES:
        if signed:
            return f"only webhooks (http(s) URLs) are signed; a {scheme}:// channel goes through Apprise: remove secret_env"
        return None
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        return f"a {scheme}:// webhook URL whose host or port cannot be read"
    if not host:
        return f"a {scheme}:// webhook URL needs a host"
    if not signed:
        return f"a {scheme}:// URL is a signed webhook: add secret_env, the environment variable that holds its secret"
    return None


def _parse_admin(reader: _Reader, table: Any, where: str) -> AdminConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[admins]])")
    reader.only_keys(table, where, {"email"})
    try:
        return AdminConfig(normalize_email(reader.string(table, where, "email", None)))
    except InvalidEmail as exc:
        raise reader.error(f"{where}.email", str(exc)) from None


def _known_names(reader: _Reader, names, known: set[str], where: str, what: str) -> None:
    for name in names:
        if name not in known:
            raise reader.error(where, f"unknown {what} {name!r}")


def _no_duplicates(reader: _Reader, names: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise reader.error(f"{where}.{key}", f"{name!r} is used twice")
        seen.add(name)


class _Reader:
    """Typed access to TOML tables, raising ConfigError that names file and key."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def only_keys(self, table: dict, where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.error(name, f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def table(self, raw: dict, key: str) -> dict:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "expected a table ([" + key + "])")
        return value

    def array_of_tables(self, raw: dict, key: str) -> list:
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables ([[{key}]])")
        return value

    def string(self, table: dict, where: str, key: str, default: str | None) -> str:
        if key not in table:
            if default is None:
                raise self.error(f"{where}.{key}", "required")
            return default
        value = table[key]
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.error(f"{where}.{key}", f"expected a non-empty string, got {value!r}")
        return value

    def strings(self, table: dict, where: str, key: str) -> tuple[str, ...]:
        value = table[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(f"{where}.{key}", f"expected a list of strings, got {value!r}")
        return tuple(value)

    def number(self, table: dict, where: str, key: str, default: float, minimum: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.error(f"{where}.{key}", f"expected a number >= {minimum}, got {value!r}")
        return value

    def duration(self, table: dict, where: str, key: str, default: int) -> int:
        try:
            return parse_duration(table.get(key, default))
        except ValueError as exc:
            raise self.error(f"{where}.{key}", str(exc)) from None

    def boolean(self, table: dict, where: str, key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{where}.{key}", f"expected true or false, got {value!r}")
        return value

    def choice(self, table: dict, where: str, key: str, choices: tuple[str, ...], default: str) -> str:
        value = table.get(key, default)
        if value not in choices:
            raise self.error(f"{where}.{key}", f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def value(self, table: dict, where: str, key: str, kind: Any, metadata: Any) -> Any:
        """A source key's value, read by its type in the kind's config and checked as its
        `metadata["check"]` says: url, urls, css, regexes, hosts; a `metadata["pattern"]` (with
        its `shape` for the message) is a regular expression each string must match whole."""
        if kind is bool:
            value: Any = self.boolean(table, where, key, False)
        elif kind is int:
            value = int(self.number(table, where, key, 0, minimum=metadata.get("minimum", 0)))
        elif kind == tuple[str, ...]:
            value = self.strings(table, where, key)
        else:
            value = self.string(table, where, key, None)
        check = metadata.get("check")
        if check in ("url", "base_url"):
            self.validate_url(f"{where}.{key}", value)
            value = value.rstrip("/") if check == "base_url" else value
        elif check == "urls":
            for url in value:
                self.validate_url(f"{where}.{key}", url)
        elif check == "css":
            try:
                HTMLTranslator().css_to_xpath(value)  # as tracker.reading.html reads it
            except SelectorError as exc:
                raise self.error(
                    f"{where}.{key}", f"invalid CSS selector {value!r}: {str(exc).splitlines()[0]}"
                ) from None
        elif check == "regexes":
            for pattern in value:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise self.error(f"{where}.{key}", f"invalid regular expression {pattern!r}: {exc}") from None
        elif check == "hosts":
            for host in value:
                try:
                    parse_host(host)
                except ValueError as exc:
                    raise self.error(f"{where}.{key}", str(exc)) from None
        if pattern := metadata.get("pattern"):  # each string must match it whole
            for text in (value,) if isinstance(value, str) else value:
                if not re.fullmatch(pattern, text):
                    shape = metadata.get("shape", pattern)
                    raise self.error(f"{where}.{key}", f"{text!r} is not of the form {shape}")
        return value

    def url(self, table: dict, where: str, key: str) -> str:
        value = self.string(table, where, key, None)
        self.validate_url(f"{where}.{key}", value)
        return value

    def validate_url(self, where: str, value: str) -> None:
        if not re.match(r"^https?://[^/\s]+", value):
            raise self.error(where, f"expected an http(s) URL, got {value!r}")
        try:
            parse_host(urlsplit(value).netloc.rpartition("@")[2])
        except ValueError as exc:
            raise self.error(where, f"expected an http(s) URL, got {value!r}: {exc}") from None
