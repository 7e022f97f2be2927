"""The configuration's typed values, as tracker.config loads them from the TOML file.

Plain frozen dataclasses that import nothing of ours, so every layer (spiders included)
can name them without loading the config machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path


class ConfigError(Exception):
    """A configuration problem, phrased for the person who wrote the file."""


class Severity(StrEnum):
    """How much a change matters, least first (SPEC.md "Documents, versions, changes")."""

    COSMETIC = "cosmetic"
    MINOR = "minor"
    SUBSTANTIVE = "substantive"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Digest(StrEnum):
    """How a subscriber gets mail: each event at once, or gathered by day or week."""

    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"


DEFAULT_CONFIG_PATH = Path("config/rulewatch.toml")
DEFAULT_DATABASE_URL = "sqlite:///var/rulewatch.db"
DEFAULT_USER_AGENT = "Rulewatch/0.1 (change tracking for compliance teams; polite, obeys robots.txt)"


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """The keys every source has. Each kind (tracker.kinds) subclasses it with its own keys:
    a field without a default is required, one with a default optional, and a field's
    `metadata["check"]` names how tracker.config checks its value."""

    name: str
    kind: str
    interval: int  # seconds
    removed_after: int = field(
        default=3, metadata={"minimum": 1}
    )  # consecutive checks gone (404/410) before a document is `removed`


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


WEBHOOK_SCHEMES = ("http", "https")  # a channel URL of these is a signed Rulewatch webhook; others go to Apprise


@dataclass(frozen=True)
class ChannelConfig:
    """A [[channels]] entry. Its URL carries tokens (Apprise) and its secret signs webhooks: neither is
    ever shown, logged or stored; `shown` is what may be. Both are read from the environment at load
    when `url_env` / `secret_env` name them, and are "" when the variable is unset (an error when sending)."""

    name: str
    scheme: str  # "" while the URL is in an unset variable
    url: str = field(default="", repr=False)
    url_env: str = ""
    secret: str = field(default="", repr=False)
    secret_env: str = ""
    sources: tuple[str, ...] = ()
    expectations: tuple[str, ...] = ()
    min_severity: str = "substantive"

    @property
    def is_webhook(self) -> bool:
        return self.scheme in WEBHOOK_SCHEMES

    @property
    def shown(self) -> str:
        """The channel as logs and pages name it: its name and its URL's scheme, nothing of the rest."""
        return f"{self.name} ({self.scheme}://…)" if self.scheme else self.name


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
    channels: tuple[ChannelConfig, ...] = ()  # [[channels]]: webhooks and Apprise targets
    cluster: ClusterConfig | None = None  # None: crawls run on this machine

    @cached_property
    def _sources_by_name(self) -> dict[str, SourceConfig]:
        """Each source by name (the first, should a name repeat): a pass looks up hundreds."""
        by_name: dict[str, SourceConfig] = {}
        for source in self.sources:
            by_name.setdefault(source.name, source)
        return by_name

    def source(self, name: str) -> SourceConfig:
        found = self._sources_by_name.get(name)
        if found is not None:
            return found
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.path}: no source named {name!r} (configured: {known})")
