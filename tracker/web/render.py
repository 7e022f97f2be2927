"""Jinja2 rendering shared by the web app, exports and emails. Autoescape is always on."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tracker.diff import render_html
from tracker.present import iso

TEMPLATES = Path(__file__).parent / "templates"
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def is_http_url(value: object) -> bool:
    """Whether a URL from fetched data may be a link: absolute http(s) with a host, nothing a
    browser would strip first (it removes tabs and newlines: "java\tscript:" is javascript:)."""
    if not isinstance(value, str) or _SPACE_OR_CONTROL.search(value):
        return False
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["iso"] = iso
environment.tests["http_url"] = is_http_url  # {% if url is http_url %}<a href=…>{% endif %}


def standalone_redline(comparison) -> str:
    """A self-contained HTML file of one redline, fit to attach to a memo."""
    template = environment.get_template("redline_standalone.html")
    return template.render(
        comparison=comparison,
        document=comparison.document,
        # render_html escapes every piece of fetched text itself.
        redline_html=Markup(render_html(comparison.redline)),
    )
