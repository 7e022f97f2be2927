"""Search: words or a "quoted phrase" across every version of every document.

The database's full-text index (storage.search) names the versions that have every word
of the query; for a term that is one plain word, that is exact. Any other term (a phrase,
or a word with punctuation such as "U.S." or "744.23") is looked for in the passages (a
title, a paragraph) that have its words, each distinct passage read once however many
versions share it: case-insensitive, any run of spaces matching any other, within one
passage, and whole words at both ends ("export" is not found in "exporter").

A hit is one stretch of consecutive versions of a document that have the query: from
`first_version` (fetched at `first_seen`) to `last_version`, and `gone_in`, the version
right after the stretch, which no longer has it (null while the latest version still has
it). Text that goes, then comes back, is two hits. Newest appearance first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from storage.models import Document
from storage.repository import list_sources
from storage.search import (
    WORD,
    fetched_at,
    fold,
    matching_passage_lists,
    matching_passages,
    matching_versions,
    passage_lists,
    passage_texts,
    passages_with,
    versions_with,
    words,
)
from storage.search import documents as list_documents
from tracker.shapes import document_json, iso

MAX_QUERY = 500  # characters
MAX_TERMS = 32
QUOTES = '"“”„'  # a phrase pasted from a word processor keeps its curly quotes
SNIPPET = 240  # characters of text around the first match shown with a hit
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD_CHAR = "[^\\W_]"


class SearchError(ValueError):
    """A query that cannot be searched for, phrased for the reader: what to change."""


@dataclass(frozen=True)
class Term:
    """One word or quoted phrase of a query."""

    text: str  # as written, its spaces collapsed
    phrase: bool
    words: tuple[str, ...]  # what the index knows of it
    pattern: re.Pattern[str]  # in a folded text; where it starts is checked by spans()
    whole_start: bool  # it starts with a letter or digit, so the character before must not be one

    @property
    def exact_in_index(self) -> bool:
        """One whole word the index holds as it is: the index alone decides where it is."""
        return len(self.words) == 1 and fold(self.text) == self.words[0]

    def spans(self, folded: str) -> Iterator[tuple[int, int]]:
        """Where the term occurs in a folded text, first to last, not overlapping."""
        at = 0
        while (match := self._next(folded, at)) is not None:
            yield match.span()
            at = match.end()

    def found_in(self, folded: str) -> bool:
        return self._next(folded, 0) is not None

    def _next(self, folded: str, at: int) -> re.Match[str] | None:
        # The start is checked here rather than by a look-behind, which would keep the regex
        # engine from skipping ahead to the term's first characters: ten times slower.
        while (match := self.pattern.search(folded, at)) is not None:
            start = match.start()
            if not (self.whole_start and start > 0 and folded[start - 1].isalnum()):  # isalnum: [^\W_]
                return match
            at = start + 1
        return None


def parse_query(query: str) -> tuple[Term, ...]:
    """The terms of a query: its words, and its "quoted phrases"; every one must occur."""
    if len(query) > MAX_QUERY:
        raise SearchError(f"the query is {len(query)} characters long; search for at most {MAX_QUERY}")
    if _CONTROL.search(query):
        raise SearchError("the query holds control characters (such as NUL); type it again without them")
    pieces: list[tuple[str, bool]] = []
    rest = query
    while rest:
        opening = next((i for i, char in enumerate(rest) if char in QUOTES), None)
        if opening is None:
            pieces += [(word, False) for word in rest.split()]
            break
        pieces += [(word, False) for word in rest[:opening].split()]
        closing = next((i for i, char in enumerate(rest[opening + 1 :], opening + 1) if char in QUOTES), None)
        if closing is None:
            raise SearchError(f"the quoted phrase {rest[opening : opening + 60]} has no closing quote; add one")
        if rest[opening + 1 : closing].strip():
            pieces.append((" ".join(rest[opening + 1 : closing].split()), True))
        rest = rest[closing + 1 :]
    terms = tuple(dict.fromkeys(_term(text, phrase) for text, phrase in pieces))
    if not terms:
        raise SearchError('nothing to search for: give words or a "quoted phrase"')
    if len(terms) > MAX_TERMS:
        raise SearchError(f"the query has {len(terms)} words and phrases; search for at most {MAX_TERMS}")
    for term in terms:
        if not term.words:
            raise SearchError(
                f"{term.text} has no letter or digit to search for; leave it out, or put it in a quoted phrase"
                ' with words (such as "§ 744.23")'
            )
    return terms


def _term(text: str, phrase: bool) -> Term:
    folded = fold(text)
    body = r"[^\S\n]+".join(re.escape(piece) for piece in folded.split())
    after = f"(?!{_WORD_CHAR})" if WORD.match(folded[-1]) else ""
    return Term(text, phrase, tuple(words(text)), re.compile(body + after), bool(WORD.match(folded[0])))


@dataclass(frozen=True)
class Hit:
    """A stretch of consecutive versions of one document that have the query."""

    source: str
    document: Document
    first_version: int
    first_seen: datetime
    last_version: int
    gone_in: int | None
    snippet: str  # the passage of first_version that shows the query best, or some of it
    marks: tuple[tuple[int, int], ...]  # where the snippet shows the query's terms: [start, end)


@dataclass(frozen=True)
class _Stretch:
    document_id: int
    first: tuple[int, int]  # (id, number) of its first version
    last: int  # the number of its last version
    gone_in: int | None  # the number of the version right after it, without the query


def search(session: Session, query: str, source_id: int | None = None) -> list[Hit]:
    """Every hit of `query`, in one source's documents or all; SearchError for a query it cannot search."""
    terms = parse_query(query)
    wanted = {word for term in terms for word in term.words}
    lists = None
    if all(term.exact_in_index for term in terms):
        found = matching_versions(session, wanted, source_id)
    else:  # a term to read in passages: the passage lists of the versions with every word, at once
        lists = matching_passage_lists(session, wanted, source_id)
        found = list(lists)
    if not found:
        return []
    # The passages a term that is not one plain word is in: those with its words, read.
    read: dict[int, set[int]] = {}
    for n, term in enumerate(terms):
        if not term.exact_in_index:
            read[n] = {id_ for id_, body in passages_with(session, set(term.words)) if term.found_in(fold(body))}
            if not read[n]:
                return []
    if lists is not None:  # the versions that have a passage with each such term
        found = lists.holding(read.values())
    having = set(found)
    stretches = [
        stretch
        for document_id, versions in versions_with(session, having).items()
        for stretch in _stretches(document_id, versions, having)
    ]
    firsts = [stretch.first[0] for stretch in stretches]
    # Each hit shows the first passage of its first version that has the rarest term read, or
    # else the longest word (a name rather than "export"): the passages of a plain word are the
    # index's, fetched for that one word only.
    if read:
        shows = min(read, key=lambda n: (len(read[n]), -len(terms[n].text)))
        place = read[shows]
    else:
        shows = max(range(len(terms)), key=lambda n: len(terms[n].text))
        place = set(matching_passages(session, set(terms[shows].words)))
    if lists is None:
        lists = passage_lists(session, firsts)
    shown = {version_id: lists.first_in(version_id, place) or 0 for version_id in firsts if version_id in lists}
    bodies = dict(passage_texts(session, set(shown.values())))
    seen = fetched_at(session, firsts)
    sources = {source.id: source.name for source in list_sources(session)}
    documents = {document.id: document for document in list_documents(session, {s.document_id for s in stretches})}
    hits = []
    for stretch in stretches:
        document = documents[stretch.document_id]
        first_id, first_number = stretch.first
        snippet, marks = _snippet(bodies.get(shown.get(first_id, 0), ""), terms, terms[shows])
        hits.append(
            Hit(
                source=sources.get(document.source_id, ""),
                document=document,
                first_version=first_number,
                first_seen=seen[first_id],
                last_version=stretch.last,
                gone_in=stretch.gone_in,
                snippet=snippet,
                marks=marks,
            )
        )
    hits.sort(key=lambda hit: (-hit.first_seen.timestamp(), hit.document.id or 0, hit.first_version))
    return hits


def _stretches(document_id: int, versions: list[tuple[int, int]], having: set[int]) -> list[_Stretch]:
    """Each run of consecutive versions ((id, number) in version order) whose ids are in `having`."""
    stretches = []
    first: tuple[int, int] | None = None
    last = 0
    for version_id, number in versions:
        if version_id in having:
            first = first or (version_id, number)
            last = number
        elif first is not None:
            stretches.append(_Stretch(document_id, first, last, number))
            first = None
    if first is not None:
        stretches.append(_Stretch(document_id, first, last, None))
    return stretches


def _snippet(passage: str, terms: tuple[Term, ...], anchor: Term) -> tuple[str, tuple[tuple[int, int], ...]]:
    """At most about SNIPPET characters of a passage around the anchor's first match, and
    where the query's terms are in them."""
    folded = fold(passage)  # as long as `passage`, position for position
    spans = {term: list(term.spans(folded)) for term in terms}
    if not spans[anchor]:
        return passage[:SNIPPET] + ("…" if len(passage) > SNIPPET else ""), ()
    start, end = spans[anchor][0]
    left, right = 0, len(passage)
    if right > SNIPPET:
        left = max(0, min(start - max(SNIPPET - (end - start), 0) // 3, len(passage) - SNIPPET))
        right = min(len(passage), max(end, left + SNIPPET))
        if left > 0:  # start at a word
            space = passage.find(" ", left, start)
            left = space + 1 if space >= 0 else left
        if right < len(passage):  # end at a word
            space = passage.rfind(" ", end, right)
            right = space if space >= 0 else right
    marks: list[tuple[int, int]] = []
    for s, e in sorted(span for term in terms for span in spans[term] if left <= span[0] and span[1] <= right):
        if not marks or s >= marks[-1][1]:  # of overlapping terms, the first is marked
            marks.append((s, e))
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(passage) else ""
    shift = len(prefix) - left
    return prefix + passage[left:right] + suffix, tuple((s + shift, e + shift) for s, e in marks)


def hit_json(hit: Hit) -> dict:
    """One hit as `rulewatch search --json` prints it and /api/search answers it."""
    return {
        "source": hit.source,
        "document": document_json(hit.document),
        "first_version": hit.first_version,
        "first_seen": iso(hit.first_seen),
        "last_version": hit.last_version,
        "gone_in": hit.gone_in,
        "snippet": hit.snippet,
    }


def highlighted(hit: Hit) -> list[tuple[str, bool]]:
    """The snippet as pieces of text, each marked or not: for a template to escape one by one."""
    pieces = []
    at = 0
    for start, end in hit.marks:
        if start > at:
            pieces.append((hit.snippet[at:start], False))
        pieces.append((hit.snippet[start:end], True))
        at = end
    if at < len(hit.snippet):
        pieces.append((hit.snippet[at:], False))
    return pieces
