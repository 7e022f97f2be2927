"""Text as both databases can store it; importable without the database's libraries."""

from __future__ import annotations


def storable_text(text: str) -> str:
    """`text` as both databases can store it: NUL removed (PostgreSQL refuses it), lone
    surrogates (from JSON such as "\\ud800", which UTF-8 cannot encode) replaced with U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16: a surrogate pair becomes its character, a lone surrogate U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
