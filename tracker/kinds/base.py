"""What a source kind is: its keys, its spider, how its fetches read, and its ingest rules.

A kind is one package under tracker/kinds holding a `config.py` (its SourceConfig
subclass), a `spider.py` (its Scrapy spider: fetch and parse only), the reading of what
it fetches, and an `__init__.py` declaring `KIND`. The registry (tracker.kinds) lists
the kinds; config validation, the crawl worker and ingest all go through it. The
spider and the reader are named by import path and loaded only when a source of the
kind runs, so reading the configuration loads neither Scrapy nor the parsers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.items import FailureReason
from tracker.reading.errors import ContentError, SelectorNotFound, UnreadableDocument
from tracker.settings import SourceConfig
from tracker.severity.model import SEVERITY_ORDER, Assessment

MAX_REASONS = 20  # as tracker.severity lists them

if TYPE_CHECKING:
    from tracker.items import Snapshot
    from tracker.reading.content import Content


def _never(previous_evidence: dict, extra: dict) -> bool:
    return False


# How a Signal's headline starts ("Under OIRA review: Rule replacing the AI Diffusion rule").
UNDER_REVIEW = "Under OIRA review"
FILED = "Filed for public inspection"
PUBLISHED = "Published"
LEADS = (UNDER_REVIEW, FILED, PUBLISHED)


@dataclass(frozen=True)
class Signal:
    """A version that can meet an expectation: the promised document, or its earliest trace, appearing."""

    lead: str  # one of LEADS: what happened, as the alert's headline says it
    reason: str  # the met event's reason, naming it: "OIRA review received 2026-11-02 for RIN 0694-AJ90"
    rin: str = ""  # when set, only an expectation with this `rin` is met by it (a review is no document)
    # A review received, a filing or a publication: the only signals that meet an expectation with
    # a `rin` (a new page that merely names the RIN joins its thread instead).
    formal: bool = False
    # The version's own event leads with the reason too (its judge says it otherwise, or a new
    # document's "first seen" does).
    note: bool = False


def first_seen(previous_evidence: dict | None, extra: dict, content: Content) -> Signal | None:
    """The signal of kinds without one of their own: a document new to its source appeared."""
    if previous_evidence is not None:
        return None
    return Signal(PUBLISHED, f"First seen: {content.title}" if content.title else "First seen")


def load(path: str) -> Any:
    """'package.module:name' -> that object, importing the module."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Kind:
    name: str  # the `kind` key of a [[sources]] table
    config: type[SourceConfig]
    spider: str  # "module:Class" of its spider
    reader: str  # "module:function" turning a Snapshot and the source's config into Content
    default_interval: str  # when a source gives no `interval`
    # Every source of the kind in a check shares one spider (one crawler): robots.txt and
    # the per-host delay then cover them together. Its spider takes `sources`.
    crawl_together: bool = False
    # "module:function" (the previous version's evidence or None for a new document, the new
    # snapshot's `extra`, its Content) -> the Signal this version gives, or None: only a version
    # with a signal can meet an expectation (an OIRA review received, a filing, a publication).
    # "": a new document is one (first_seen).
    signal: str = ""
    # ... -> the snapshot is an older copy of what is stored (a filing after its publication):
    # store nothing.
    older_copy: Callable[[dict, dict], bool] = _never
    # "module:function" (old Content, new Content) -> [(severity, reason)]: what the kind reads
    # in a change of its own fields (an OIRA review received, a new stage), said before the
    # generic reasons of tracker.severity; "" when the generic rules say it all.
    judge: str = ""
    # "module:function" (Content) -> the citation the document was published under
    # ("91 FR 82417"), or "": a document that cites it (an eCFR part amended by it) joins
    # the threads that document is in. "": the kind's documents are not published so.
    published_as: str = ""

    def spider_class(self) -> type:
        return load(self.spider)

    def assessed(self, old: Content, new: Content, generic: Assessment) -> Assessment:
        """The generic assessment of a change, with the kind's own findings first."""
        found = load(self.judge)(old, new) if self.judge else []
        if not found:
            return generic
        severity = max([generic.severity, *(s for s, _ in found)], key=SEVERITY_ORDER.__getitem__)
        reasons = list(dict.fromkeys([reason for _, reason in found] + list(generic.reasons)))
        if generic.severity == "cosmetic" and generic.reasons == ("no visible text changed",):
            reasons.remove(generic.reasons[0])
        return Assessment(severity, tuple(reasons[:MAX_REASONS]))

    def citation_of(self, content: Content) -> str:
        return load(self.published_as)(content) if self.published_as else ""

    def signal_of(self, previous_evidence: dict | None, extra: dict, content: Content) -> Signal | None:
        hook = load(self.signal) if self.signal else first_seen
        return hook(previous_evidence, extra, content)

    def read(self, snapshot: Snapshot, source: SourceConfig) -> Content:
        """The snapshot's content; ContentError, naming its URL, when it cannot be read."""
        try:
            return load(self.reader)(snapshot, source)
        except SelectorNotFound as exc:
            raise ContentError(f"{exc} at {snapshot.final_url}", FailureReason.SELECTOR_GONE) from None
        except UnreadableDocument as exc:  # a damaged PDF, a page nested too deep or too big
            raise ContentError(f"{exc} ({snapshot.final_url})") from None
