"""The redline's look: its class names and its one stylesheet, redline.css.

The web pages link the stylesheet, the standalone export embeds it, and e-mails,
whose clients drop <style> blocks, get the same rules inlined on each element by
`inline_styles`. Change the look in redline.css, nowhere else.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

# The classes render.py writes; redline.css styles them.
INSERTED = "rl-ins"
DELETED = "rl-del"
SECTION = "rl-section"
NOTE = "rl-note"
LABEL = "rl-label"
MOVED = "rl-moved"
REDLINE = "rl-redline"
EXCERPT = "rl-excerpt"
SIDE_TABLE = "rl-side"
PARAGRAPH = "para"

STYLESHEET_NAME = "redline.css"

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')


@cache
def stylesheet() -> str:
    """The text of redline.css, read once from the package."""
    return (files("tracker.redline") / STYLESHEET_NAME).read_text(encoding="utf-8")


def _declarations(body: str) -> list[str]:
    out = []
    for declaration in body.split(";"):
        name, colon, value = declaration.partition(":")
        if colon and name.strip() and value.strip():
            out.append(f"{name.strip()}:{' '.join(value.split())};")
    return out


@cache
def class_styles() -> dict[str, str]:
    """Each class the stylesheet styles on its own (a selector ".name"), with its
    declarations as one inline style, e.g. {"rl-ins": "background:#d7f5dd;…"}."""
    styles: dict[str, list[str]] = {}
    for selectors, body in _RULE.findall(_COMMENT.sub("", stylesheet())):
        for selector in (part.strip() for part in selectors.split(",")):
            if re.fullmatch(r"\.[\w-]+", selector):
                styles.setdefault(selector[1:], []).extend(_declarations(body))
    return {name: "".join(declarations) for name, declarations in styles.items()}


def inline_styles(html: str) -> str:
    """The HTML with each element's classes' rules added as a style attribute, for e-mail."""
    styles = class_styles()

    def with_style(match: re.Match[str]) -> str:
        style = "".join(styles.get(name, "") for name in match.group(1).split())
        return f'{match.group(0)} style="{style}"' if style else match.group(0)

    return _CLASS_ATTRIBUTE.sub(with_style, html)
