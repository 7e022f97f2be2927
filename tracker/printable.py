"""Fetched text on its way to a terminal or a log: control characters shown escaped.

A title or URL from a server may carry ESC sequences (clear screen, window title) or
newlines that forge a line of output; `printable` makes each of them visible instead.
"""

from __future__ import annotations

import logging
import re

# C0 controls but tab, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(value: object) -> str:
    """`value` as text with every control character escaped (\\n, \\r, \\x1b, \\u202e…)."""
    return _CONTROL.sub(_escape, str(value))


class PrintableFormatter(logging.Formatter):
    """Escapes the controls of a record's message, so one record is one line (a traceback keeps its own)."""

    def format(self, record: logging.LogRecord) -> str:
        escaped = logging.makeLogRecord(record.__dict__)
        escaped.msg, escaped.args = printable(record.getMessage()), None
        return super().format(escaped)


REASON_LENGTH = 300  # characters of an error's own text kept in a failure's reason


def describe_error(exc: BaseException) -> str:
    """What went wrong, in one line, never the data: a database error's own text carries its
    SQL and parameters (a whole body), so only the driver's first line is kept."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    lines = str(cause).strip().splitlines()
    text = lines[0][:REASON_LENGTH] if lines else ""
    return printable(f"{type(cause).__name__}: {text}" if text else type(cause).__name__)
