"""Where the configuration file is, and which database it names.

Light on purpose (tomllib alone): a read-only command finds its database here without
the full loader (tracker.config), which validates every source through its kind.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from tracker.settings import DEFAULT_CONFIG_PATH, DEFAULT_DATABASE_URL


def resolve_config_path(explicit: str | os.PathLike | None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("RULEWATCH_CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """sqlite:///var/x.db is var/x.db beside the config file; sqlite:////abs stays."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith("/") or rest == ":memory:":
        return url
    return prefix + str(base_dir / rest)


def quick_database_url(explicit: str | os.PathLike | None) -> str | None:
    """The database URL the configuration names, read without checking the rest of the file;
    None when anything is amiss, for the full loader to say what."""
    path = resolve_config_path(explicit)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    database = raw.get("database", {})
    url = os.environ.get("RULEWATCH_DATABASE_URL") or (
        database.get("url", DEFAULT_DATABASE_URL) if isinstance(database, dict) else None
    )
    if not isinstance(url, str) or not url:
        return None
    return resolve_sqlite_path(url, path.resolve().parent)
