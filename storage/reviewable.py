"""Which events have a review: a minor or substantive change (not a baseline), or an
expectation met. Light on purpose: storage.repository and storage.plain share it."""

from __future__ import annotations

from typing import Protocol

REVIEWED_SEVERITIES = ("minor", "substantive")  # a cosmetic change is never reviewed


class EventFacts(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def baseline(self) -> bool: ...


def is_reviewable(event: EventFacts) -> bool:
    if event.kind == "changed":
        return event.severity in REVIEWED_SEVERITIES and not event.baseline
    return event.kind == "expectation_met"
