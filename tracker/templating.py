"""Jinja2 as Rulewatch renders fetched text: autoescape always on, links only where they are safe.

The web app and the alert emails each render their own templates through an environment
made here, so both escape and link alike.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from tracker.shapes import iso

_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def is_http_url(value: object) -> bool:
    """Whether a URL from fetched data may be a link: absolute http(s) with a host, nothing a
    browser would strip first (it removes tabs and newlines: "java\tscript:" is javascript:)."""
    if not isinstance(value, str) or _SPACE_OR_CONTROL.search(value):
        return False
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def environment_for(folder: Path) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["iso"] = iso
    environment.tests["http_url"] = is_http_url  # {% if url is http_url %}<a href=…>{% endif %}
    return environment
