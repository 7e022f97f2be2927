"""Loading and validating the TOML configuration.

Every key is checked on load; a wrong key or value is one `ConfigError` line that
names the file and the key, never a traceback. Each source kind declares the keys
it requires and accepts (SOURCE_KINDS), so validation follows from that table.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cssselect import HTMLTranslator, SelectorError
from email_validator import EmailNotValidError, validate_email

DEFAULT_CONFIG_PATH = Path("config/rulewatch.toml")
DEFAULT_DATABASE_URL = "sqlite:///var/rulewatch.db"
DEFAULT_USER_AGENT = (
    "Rulewatch/0.1 (change tracking for compliance teams; polite, obeys robots.txt)"
)


class ConfigError(Exception):
    """A configuration problem, phrased for the person who wrote the file."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    interval: int  # seconds
    url: str = ""
    selector: str = ""
    start_urls: tuple[str, ...] = ()
    follow: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    base_url: str = ""
    agencies: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    rins: tuple[str, ...] = ()
    cfr_parts: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    public_inspection: bool = False
    title: int = 15
    parts: tuple[str, ...] = ()
    removed_after: int = 3
    max_pages: int = 200


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 30.0  # seconds per request
    max_bytes: int = 25 * 1024 * 1024
    obey_robots: bool = True
    delay: float = 1.0  # seconds between requests to one host
    retries: int = 2
    retry_after_max: int = 24 * 3600  # seconds; a longer Retry-After is held to this
    document_budget: int = 60  # seconds of reading/storing one document before it is a recorded failure


@dataclass(frozen=True)
class MailConfig:
    smtp_host: str = "localhost"
    smtp_port: int = 25
    sender: str = "Rulewatch <alerts@localhost>"
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    admin_token: str = ""  # the admin pages and API are off while it is empty


@dataclass(frozen=True)
class ExpectationConfig:
    name: str
    title: str = ""
    match_any: tuple[str, ...] = ()
    match_all: tuple[str, ...] = ()
    rin: str = ""
    cfr_part: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscriberConfig:
    email: str
    sources: tuple[str, ...] = ()
    expectations: tuple[str, ...] = ()
    min_severity: str = "substantive"
    digest: str = "off"


@dataclass(frozen=True)
class AdminConfig:
    email: str


@dataclass(frozen=True)
class ClusterConfig:
    """Scrapyd nodes that run the crawls; the database (PostgreSQL) is the store they share."""

    nodes: tuple[str, ...]  # base URLs, e.g. "http://10.0.0.5:6800"
    project: str = "rulewatch"  # the Scrapyd project the nodes serve
    node_config: str = ""  # this config file's path as the nodes see it
    batch_size: int = 25  # sources per Scrapyd job
    node_timeout: int = 30  # seconds a node may be unreachable before its runs go to another


@dataclass(frozen=True)
class Config:
    path: Path
    database_url: str
    fetch: FetchConfig = field(default_factory=FetchConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    web: WebConfig = field(default_factory=WebConfig)
    sources: tuple[SourceConfig, ...] = ()
    expectations: tuple[ExpectationConfig, ...] = ()
    subscribers: tuple[SubscriberConfig, ...] = ()
    admins: tuple[AdminConfig, ...] = ()  # told when a source keeps failing, and when it recovers
    cluster: ClusterConfig | None = None  # None: crawls run on this machine

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.path}: no source named {name!r} (configured: {known})")


# Keys every source takes, then per kind: (required keys, optional keys).
COMMON_SOURCE_KEYS = {"name", "kind", "interval", "removed_after"}
SOURCE_KINDS: dict[str, tuple[set[str], set[str]]] = {
    "page": ({"url"}, {"selector"}),
    "site": ({"start_urls"}, {"follow", "hosts", "max_pages"}),
    "federal_register": (
        set(),
        {"base_url", "agencies", "terms", "rins", "cfr_parts", "types", "public_inspection"},
    ),
    "ecfr": ({"parts"}, {"base_url", "title"}),
}
DEFAULT_BASE_URLS = {
    "federal_register": "https://www.federalregister.gov",
    "ecfr": "https://www.ecfr.gov",
}
DEFAULT_INTERVALS = {"federal_register": "15m", "site": "30m", "ecfr": "6h", "page": "1h"}

SEVERITIES = ("cosmetic", "minor", "substantive")
DIGESTS = ("off", "daily", "weekly")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST = re.compile(r"^(?:\[(?P<ipv6>[^\]]*)\]|(?P<name>[^\s/?#@:\[\]\\]+))(?::(?P<port>[0-9]+))?$")


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


def parse_host(entry: str) -> tuple[str, int | None]:
    """'www.bis.gov' -> ('www.bis.gov', None); 'Example.org.:8443' -> ('example.org', 8443);
    '[::1]:8080' -> ('::1', 8080). A host as it is compared (see canonical_host); a port
    only when one is written, which spiders.policy reads as "the default ports"."""
    match = _HOST.match(entry)
    if not match:
        raise ValueError(f"expected a host or host:port such as 'www.bis.gov' or '127.0.0.1:8000', got {entry!r}")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"the port of {entry!r} is out of range (1-65535)")
    if match["ipv6"] is not None:
        return str(ipaddress.IPv6Address(match["ipv6"])), port
    return canonical_host(match["name"]), port


def canonical_host(host: str) -> str:
    """A URL's host name as compared: lower case, no trailing dot, IDNA for non-ASCII names,
    an IPv6 address (urlsplit's `hostname`, without brackets) compressed."""
    host = host.lower().rstrip(".")
    if ":" in host:
        return str(ipaddress.IPv6Address(host))
    if not host.isascii():
        host = host.encode("idna").decode("ascii")  # a UnicodeError is a ValueError
    if not host:
        raise ValueError("no host name")
    return host


def resolve_config_path(explicit: str | os.PathLike | None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("RULEWATCH_CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    path = resolve_config_path(explicit)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found; pass --config PATH or set RULEWATCH_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    reader = _Reader(path)
    reader.only_keys(
        raw, "", {"database", "fetch", "mail", "web", "sources", "expectations", "subscribers", "admins", "cluster"}
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
        _parse_source(reader, item, f"sources[{i}]")
        for i, item in enumerate(reader.array_of_tables(raw, "sources"))
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
    cluster = _parse_cluster(reader, raw, path, database_url)
    return Config(
        admins=admins,
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


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """sqlite:///var/x.db is var/x.db beside the config file; sqlite:////abs stays."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    rest = url[len(prefix):]
    if not rest or rest.startswith("/") or rest == ":memory:":
        return url
    return prefix + str(base_dir / rest)


def _parse_fetch(reader: "_Reader", table: dict) -> FetchConfig:
    reader.only_keys(
        table, "fetch", {"user_agent", "timeout", "max_bytes", "obey_robots", "delay", "retries", "retry_after_max", "document_budget"},
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


def _parse_mail(reader: "_Reader", table: dict) -> MailConfig:
    reader.only_keys(
        table, "mail", {"smtp_host", "smtp_port", "sender", "starttls", "ssl", "username", "password"}
    )
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


def _parse_web(reader: "_Reader", table: dict) -> WebConfig:
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


def _parse_cluster(reader: "_Reader", raw: dict, path: Path, database_url: str) -> ClusterConfig | None:
    if "cluster" not in raw:
        return None
    table = reader.table(raw, "cluster")
    reader.only_keys(table, "cluster", {"nodes", "project", "node_config", "batch_size", "node_timeout"})
    if "nodes" not in table:
        raise reader.error("cluster.nodes", "required: the Scrapyd nodes' URLs, e.g. [\"http://10.0.0.5:6800\"]")
    nodes = tuple(node.rstrip("/") for node in reader.strings(table, "cluster", "nodes"))
    if not nodes:
        raise reader.error("cluster.nodes", "list at least one Scrapyd node, or remove [cluster] to crawl here")
    for i, node in enumerate(nodes):
        reader.check_url(f"cluster.nodes[{i}]", node)
    _no_duplicates(reader, list(nodes), "cluster", "nodes")
    if not database_url.startswith("postgresql"):
        raise reader.error(
            "cluster", "Scrapyd nodes must share the database: set [database] url to a PostgreSQL URL"
        )
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


def _parse_source(reader: "_Reader", table: Any, where: str) -> SourceConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[sources]])")
    name = reader.string(table, where, "name", None)
    if not _SOURCE_NAME.match(name):
        raise reader.error(f"{where}.name", f"invalid name {name!r}: use letters, digits, '-', '_' or '.'")
    where = f"sources.{name}"
    kind = reader.string(table, where, "kind", None)
    if kind not in SOURCE_KINDS:
        raise reader.error(f"{where}.kind", f"unknown kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
    required, optional = SOURCE_KINDS[kind]
    reader.only_keys(table, where, COMMON_SOURCE_KEYS | required | optional)
    for key in sorted(required):
        if key not in table:
            raise reader.error(f"{where}.{key}", f"required for a {kind!r} source")

    try:
        interval = parse_duration(table.get("interval", DEFAULT_INTERVALS[kind]))
    except ValueError as exc:
        raise reader.error(f"{where}.interval", str(exc)) from None

    values: dict[str, Any] = {"name": name, "kind": kind, "interval": interval}
    values["removed_after"] = int(reader.number(table, where, "removed_after", 3, minimum=1))
    if "url" in table:
        values["url"] = reader.url(table, where, "url")
    if "selector" in table:
        values["selector"] = reader.string(table, where, "selector", "")
        try:
            HTMLTranslator().css_to_xpath(values["selector"])  # as tracker.normalize reads it
        except SelectorError as exc:
            message = str(exc).splitlines()[0]
            raise reader.error(f"{where}.selector", f"invalid CSS selector {values['selector']!r}: {message}") from None
    if "base_url" in table or kind in DEFAULT_BASE_URLS:
        values["base_url"] = (
            reader.url(table, where, "base_url") if "base_url" in table else DEFAULT_BASE_URLS[kind]
        ).rstrip("/")
    for key in ("agencies", "terms", "rins", "cfr_parts", "types", "parts", "hosts"):
        if key in table:
            values[key] = reader.strings(table, where, key)
    for host in values.get("hosts", ()):
        try:
            parse_host(host)
        except ValueError as exc:
            raise reader.error(f"{where}.hosts", str(exc)) from None
    if "start_urls" in table:
        values["start_urls"] = reader.strings(table, where, "start_urls")
        for url in values["start_urls"]:
            reader.check_url(f"{where}.start_urls", url)
    if "follow" in table:
        values["follow"] = reader.strings(table, where, "follow")
        for pattern in values["follow"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise reader.error(f"{where}.follow", f"invalid regular expression {pattern!r}: {exc}") from None
    if "public_inspection" in table:
        values["public_inspection"] = reader.boolean(table, where, "public_inspection", False)
    if "title" in table:
        values["title"] = int(reader.number(table, where, "title", 15, minimum=1))
    if "max_pages" in table:
        values["max_pages"] = int(reader.number(table, where, "max_pages", 200, minimum=1))
    return SourceConfig(**values)


def _parse_expectation(reader: "_Reader", table: Any, where: str, sources: set[str]) -> ExpectationConfig:
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
    reader: "_Reader", table: Any, where: str, sources: set[str], expectations: set[str]
) -> SubscriberConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[subscribers]])")
    reader.only_keys(table, where, {"email", "sources", "expectations", "min_severity", "digest"})
    email = reader.string(table, where, "email", None)
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise reader.error(f"{where}.email", f"invalid email address {email!r}: {exc}") from None
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


def _parse_admin(reader: "_Reader", table: Any, where: str) -> AdminConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "expected a table ([[admins]])")
    reader.only_keys(table, where, {"email"})
    email = reader.string(table, where, "email", None)
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise reader.error(f"{where}.email", f"invalid email address {email!r}: {exc}") from None
    return AdminConfig(email.strip().lower())


def _known_names(reader: "_Reader", names, known: set[str], where: str, what: str) -> None:
    for name in names:
        if name not in known:
            raise reader.error(where, f"unknown {what} {name!r}")


def _no_duplicates(reader: "_Reader", names: list[str], where: str, key: str) -> None:
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

    def url(self, table: dict, where: str, key: str) -> str:
        value = self.string(table, where, key, None)
        self.check_url(f"{where}.{key}", value)
        return value

    def check_url(self, where: str, value: str) -> None:
        if not re.match(r"^https?://[^/\s]+", value):
            raise self.error(where, f"expected an http(s) URL, got {value!r}")
        try:
            parse_host(urlsplit(value).netloc.rpartition("@")[2])
        except ValueError as exc:
            raise self.error(where, f"expected an http(s) URL, got {value!r}: {exc}") from None
