"""The `federal_register` kind: FR documents, from public inspection to publication."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.kinds.base import FILED, PUBLISHED, Kind, Signal
from tracker.kinds.federal_register.config import FederalRegisterConfig

if TYPE_CHECKING:
    from tracker.reading.content import Content

HEADER_FIELDS = 15


def published_now(previous_evidence: dict, extra: dict) -> bool:
    """A document leaving public inspection: its formal appearance."""
    return previous_evidence.get("stage") == "public_inspection" and extra.get("stage") == "published"


def older_copy(previous_evidence: dict, extra: dict) -> bool:
    """A public-inspection copy of a document already published is old news, not a change."""
    return extra.get("stage") == "public_inspection" and previous_evidence.get("stage") == "published"


def header_fields(content: Content) -> dict[str, str]:
    """The header's fields ("Citation" → "91 FR 82417"), as tracker.kinds.federal_register.content writes them."""
    fields: dict[str, str] = {}
    for block in content.blocks[:HEADER_FIELDS]:
        fields.setdefault(block.section, block.text.partition(": ")[2])
    return fields


def published_as(content: Content) -> str:
    """The document's Federal Register citation ("91 FR 82417"); "" while it is on public inspection."""
    return header_fields(content).get("Citation", "")


def signal(previous_evidence: dict | None, extra: dict, content: Content) -> Signal | None:
    """A filing new on public inspection, or a document published (new, or leaving public inspection)."""
    fields = header_fields(content)
    number = f"FR Doc {fields['Document number']}" if fields.get("Document number") else "an FR document"
    if extra.get("stage") == "public_inspection":
        if previous_evidence is not None:
            return None
        status = fields.get("Status", "")
        reason = f"{FILED}: {number}" + (f", {status[:1].lower()}{status[1:]}" if status else "")
        return Signal(FILED, reason, note=True, formal=True)
    if previous_evidence is None or published_now(previous_evidence, extra):
        status = fields.get("Status") or "Published in the Federal Register"
        citation = fields.get("Citation", "")
        return Signal(PUBLISHED, f"{status}: {number}" + (f", {citation}" if citation else ""), note=True, formal=True)
    return None


KIND = Kind(
    name="federal_register",
    config=FederalRegisterConfig,
    spider="tracker.kinds.federal_register.spider:FederalRegisterSpider",
    reader="tracker.kinds.federal_register.content:read",
    default_interval="15m",
    signal="tracker.kinds.federal_register:signal",
    published_as="tracker.kinds.federal_register:published_as",
    older_copy=older_copy,
)
