"""Search: words or a "quoted phrase" across every version of every document.

The database's full-text index (storage.search) names the versions that have every word
of the query. A term that is one plain word is then found exactly; any other term (a
phrase, or a word with punctuation such as "U.S." or "744.23") is looked for in each such
version's text: case-insensitive, any run of spaces matching any other, never across two
paragraphs, and whole words at both ends ("export" is not found in "exporter").

A hit is one stretch of consecutive versions of a document that have the query: from
`first_version` (fetched at `first_seen`) to `last_version`, and `gone_in`, the version
right after the stretch, which no longer has it (null while the latest version still has
it). Text that goes, then comes back, is two hits. Newest appearance first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import Document, Version
from storage.repository import list_sources, require_row
from storage.search import WORD, VersionRef, fold, matching_versions, texts, versions_of, words
from tracker.schemas import document_json, iso

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
    pattern: re.Pattern[str]  # where it occurs in a folded text

    @property
    def exact_in_index(self) -> bool:
        """One whole word the index holds as it is: the index alone decides where it is."""
        return len(self.words) == 1 and fold(self.text) == self.words[0]


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
    if not any(term.words for term in terms):
        raise SearchError("search for at least one word of letters or digits, not punctuation alone")
    return terms


def _term(text: str, phrase: bool) -> Term:
    folded = fold(text)
    body = r"[^\S\n]+".join(re.escape(piece) for piece in folded.split())
    before = f"(?<!{_WORD_CHAR})" if WORD.match(folded[0]) else ""
    after = f"(?!{_WORD_CHAR})" if WORD.match(folded[-1]) else ""
    return Term(text, phrase, tuple(words(text)), re.compile(before + body + after))


@dataclass(frozen=True)
class Hit:
    """A stretch of consecutive versions of one document that have the query."""

    source: str
    document: Document
    first_version: int
    first_seen: datetime
    last_version: int
    gone_in: int | None
    snippet: str  # the text around the query's first match in first_version, from one paragraph
    marks: tuple[tuple[int, int], ...]  # where the snippet shows the query's terms: [start, end)


@dataclass(frozen=True)
class _Stretch:
    document_id: int
    versions: list[VersionRef]  # consecutive, each with the query
    after: VersionRef | None  # the next version, without it


def search(session: Session, query: str, source_id: int | None = None) -> list[Hit]:
    """Every hit of `query`, in one source's documents or all; SearchError for a query it cannot search."""
    terms = parse_query(query)
    found = matching_versions(session, {word for term in terms for word in term.words}, source_id)
    to_read = [term for term in terms if not term.exact_in_index]
    if to_read:
        found = [version_id for version_id, body in texts(session, found) if _has_all(fold(body), to_read)]
    if not found:
        return []
    documents = set(session.exec(select(Version.document_id).where(col(Version.id).in_(found))))
    having = set(found)
    stretches = [
        stretch for versions in versions_of(session, documents).values() for stretch in _stretches(versions, having)
    ]
    firsts = dict(texts(session, [stretch.versions[0].id for stretch in stretches]))
    sources = {source.id: source.name for source in list_sources(session)}
    hits = []
    for stretch in stretches:
        document = require_row(session, Document, stretch.document_id)
        first, last = stretch.versions[0], stretch.versions[-1]
        snippet, marks = _snippet(firsts.get(first.id, ""), terms)
        hits.append(
            Hit(
                source=sources.get(document.source_id, ""),
                document=document,
                first_version=first.number,
                first_seen=first.fetched_at,
                last_version=last.number,
                gone_in=stretch.after.number if stretch.after is not None else None,
                snippet=snippet,
                marks=marks,
            )
        )
    hits.sort(key=lambda hit: (-hit.first_seen.timestamp(), hit.document.id or 0, hit.first_version))
    return hits


def _has_all(folded: str, terms: list[Term]) -> bool:
    return all(term.pattern.search(folded) for term in terms)


def _stretches(versions: list[VersionRef], having: set[int]) -> list[_Stretch]:
    """Each run of consecutive versions (in version order) whose ids are in `having`."""
    stretches = []
    run: list[VersionRef] = []
    for version in [*versions, None]:
        if version is not None and version.id in having:
            run.append(version)
        elif run:
            stretches.append(_Stretch(run[0].document_id, run, version))
            run = []
    return stretches


def _snippet(body: str, terms: tuple[Term, ...]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """At most about SNIPPET characters of the paragraph where the query shows best, and
    where its terms are in them."""
    folded = fold(body)  # as long as `body`, position for position
    spans = {term: [match.span() for match in term.pattern.finditer(folded)] for term in terms}
    present = [term for term in terms if spans[term]]
    if not present:
        return "", ()
    # The rarest term in this text shows where the query is: a phrase, a name, not "export".
    anchor = min(present, key=lambda term: (len(spans[term]), -len(term.text)))
    start, end = spans[anchor][0]
    line_start = body.rfind("\n", 0, start) + 1
    line_end = body.find("\n", end)
    line_end = len(body) if line_end < 0 else line_end
    left, right = line_start, line_end
    if right - left > SNIPPET:
        left = max(line_start, start - max(SNIPPET - (end - start), 0) // 3)
        right = min(line_end, max(end, left + SNIPPET))
        left = max(line_start, min(left, right - SNIPPET, start))
        if left > line_start:  # start at a word
            space = body.find(" ", left, start)
            left = space + 1 if space >= 0 else left
        if right < line_end:  # end at a word
            space = body.rfind(" ", end, right)
            right = space if space >= 0 else right
    marks: list[tuple[int, int]] = []
    for s, e in sorted(span for term in terms for span in spans[term] if left <= span[0] and span[1] <= right):
        if not marks or s >= marks[-1][1]:  # of overlapping terms, the first is marked
            marks.append((s, e))
    prefix = "…" if left > line_start else ""
    suffix = "…" if right < line_end else ""
    shift = len(prefix) - left
    return prefix + body[left:right] + suffix, tuple((s + shift, e + shift) for s, e in marks)


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
