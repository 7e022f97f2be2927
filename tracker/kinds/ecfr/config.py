"""An `ecfr` source: parts of a CFR title, by the eCFR versioner's amendment dates."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.settings import SourceConfig


@dataclass(frozen=True, kw_only=True)
class EcfrConfig(SourceConfig):
    parts: tuple[str, ...]
    base_url: str = field(default="https://www.ecfr.gov", metadata={"check": "base_url"})
    title: int = field(default=15, metadata={"minimum": 1})
