"""The severity lexicon: the word lists and patterns of lexicon.toml, loaded and checked.

The rules (tracker.severity.rules) hold the logic; what counts as a modal verb,
a negation, a date or a citation is data a legal reviewer edits in lexicon.toml.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["Lexicon", "LexiconError", "default_lexicon", "load_lexicon"]

LEXICON_NAME = "lexicon.toml"

# Placeholders the date and citation patterns may use.
_MONTH_PLACEHOLDER = "{month}"
_TAIL_PLACEHOLDER = "{tail}"

# Lists compared with lower-cased words must be written in lower case.
_LOWER_CASE_LISTS = ("modal_words", "negation_words", "number_words", "logic_words")
_CASED_LISTS = ("months", "month_abbreviations")
_PATTERN_LISTS = ("dates", "citations")
_PATTERNS = ("citation_tail", "eccn", "number", "number_sign", "document_link")


class LexiconError(ValueError):
    """The lexicon file is missing a key or holds a malformed one."""


@dataclass(frozen=True)
class Lexicon:
    modal_words: frozenset[str]
    negation_words: frozenset[str]
    number_words: frozenset[str]
    logic_words: frozenset[str]
    months: tuple[str, ...]
    contractions: Mapping[str, tuple[str, ...]]
    date_re: re.Pattern[str]
    citation_re: re.Pattern[str]
    eccn_re: re.Pattern[str]
    number_re: re.Pattern[str]
    number_sign_re: re.Pattern[str]
    document_link_re: re.Pattern[str]
    # Words whose swap is never a mere spelling fix: modals, negations, numbers, logic words.
    steering_words: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        steering = self.modal_words | self.negation_words | self.number_words | self.logic_words
        object.__setattr__(self, "steering_words", steering)  # frozen: set once, here


@cache
def default_lexicon() -> Lexicon:
    """The lexicon shipped in the package, loaded once."""
    text = (files("tracker.severity") / LEXICON_NAME).read_text(encoding="utf-8")
    return parse_lexicon(text, LEXICON_NAME)


def load_lexicon(path: Path) -> Lexicon:
    """A lexicon read from another file (a reviewer's edited copy)."""
    return parse_lexicon(path.read_text(encoding="utf-8"), str(path))


def parse_lexicon(text: str, origin: str) -> Lexicon:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LexiconError(f"{origin}: not valid TOML: {error}") from error
    words = _table(data, "words", origin)
    patterns = _table(data, "patterns", origin)
    for name in _LOWER_CASE_LISTS:
        for word in _strings(words, name, f"words.{name}", origin):
            if word != word.lower():
                raise LexiconError(f"{origin}: words.{name}: write {word!r} in lower case")
    months = _strings(words, "months", "words.months", origin)
    abbreviations = _strings(words, "month_abbreviations", "words.month_abbreviations", origin)
    month = "(?:" + "|".join(re.escape(m) for m in (*months, *abbreviations)) + ")"
    tail = _pattern(patterns, "citation_tail", origin).pattern
    dates = [p.replace(_MONTH_PLACEHOLDER, month) for p in _strings(patterns, "dates", "patterns.dates", origin)]
    citations = [
        p.replace(_TAIL_PLACEHOLDER, tail) for p in _strings(patterns, "citations", "patterns.citations", origin)
    ]
    return Lexicon(
        modal_words=frozenset(words["modal_words"]),
        negation_words=frozenset(words["negation_words"]),
        number_words=frozenset(words["number_words"]),
        logic_words=frozenset(words["logic_words"]),
        months=tuple(months),
        contractions=_contractions(data, origin),
        date_re=_compile("|".join(f"(?:{p})" for p in dates), "patterns.dates", origin),
        citation_re=_compile("|".join(f"(?:{p})" for p in citations), "patterns.citations", origin),
        eccn_re=_pattern(patterns, "eccn", origin),
        number_re=_pattern(patterns, "number", origin),
        number_sign_re=_pattern(patterns, "number_sign", origin),
        document_link_re=_pattern(patterns, "document_link", origin, re.IGNORECASE),
    )


def _table(data: dict[str, Any], key: str, origin: str) -> dict[str, Any]:
    table = data.get(key)
    if not isinstance(table, dict):
        raise LexiconError(f"{origin}: [{key}] is missing or not a table")
    expected = {
        "words": (*_LOWER_CASE_LISTS, *_CASED_LISTS),
        "patterns": (*_PATTERN_LISTS, *_PATTERNS),
    }.get(key)
    if expected:
        # A misspelt key would otherwise leave its list silently unused.
        unknown = sorted(set(table) - set(expected))
        found = f" (found unknown key(s): {', '.join(unknown)})" if unknown else ""
        missing = [name for name in expected if name not in table]
        if missing:
            raise LexiconError(f"{origin}: {key}.{missing[0]} is missing{found}")
        if unknown:
            raise LexiconError(f"{origin}: [{key}] has unknown key(s): {', '.join(unknown)}")
    return table


def _strings(table: dict[str, Any], key: str, name: str, origin: str) -> list[str]:
    value = table.get(key)
    if value is None:
        raise LexiconError(f"{origin}: {name} is missing")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(f"{origin}: {name} must be a non-empty list of non-empty strings")
    return value


def _compile(pattern: str, name: str, origin: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as error:
        raise LexiconError(f"{origin}: {name} is not a valid regular expression: {error}") from error


def _pattern(table: dict[str, Any], key: str, origin: str, flags: int = 0) -> re.Pattern[str]:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise LexiconError(f"{origin}: patterns.{key} is missing or not a string")
    return _compile(value, f"patterns.{key}", origin, flags)


def _contractions(data: dict[str, Any], origin: str) -> dict[str, tuple[str, ...]]:
    table = data.get("contractions")
    if not isinstance(table, dict) or not table:
        raise LexiconError(f"{origin}: [contractions] is missing or empty")
    out = {}
    for word, parts in table.items():
        if word != word.lower():
            raise LexiconError(f"{origin}: contractions: write {word!r} in lower case")
        _strings(table, word, f"contractions.{word!r}", origin)
        out[word] = tuple(parts)
    return out
