"""Jinja2 rendering shared by the web app, exports and emails. Autoescape is always on."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tracker.diff import render_html
from tracker.present import iso

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["iso"] = iso


def standalone_redline(comparison) -> str:
    """A self-contained HTML file of one redline, fit to attach to a memo."""
    template = environment.get_template("redline_standalone.html")
    return template.render(
        comparison=comparison,
        document=comparison.document,
        # render_html escapes every piece of fetched text itself.
        redline_html=Markup(render_html(comparison.redline)),
    )
