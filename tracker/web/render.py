"""Jinja2 rendering of the web app and its exports (tracker.templating: autoescape always on)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from tracker.redline.render import render_html
from tracker.redline.style import stylesheet
from tracker.templating import environment_for

TEMPLATES = Path(__file__).parent / "templates"
environment = environment_for(TEMPLATES)


def standalone_redline(comparison) -> str:
    """A self-contained HTML file of one redline, fit to attach to a memo."""
    template = environment.get_template("redline_standalone.html")
    return template.render(
        comparison=comparison,
        document=comparison.document,
        # render_html escapes every piece of fetched text itself.
        redline_html=Markup(render_html(comparison.redline)),
        redline_css=Markup(stylesheet()),  # the package's own file, embedded so the export stands alone
    )
