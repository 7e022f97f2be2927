"""A `reginfo` source: RINs followed in the Unified Agenda and in OIRA's EO 12866 reviews."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.settings import SourceConfig

RIN_PATTERN = r"\d{4}-[A-Z]{2}\d{2}"  # agency code, then two letters and two digits: 0694-AJ90
AGENCY_PATTERN = r"\d{4}"  # the RIN's first four digits: 0694 is BIS


@dataclass(frozen=True, kw_only=True)
class ReginfoConfig(SourceConfig):
    base_url: str = field(default="https://www.reginfo.gov", metadata={"check": "base_url"})
    rins: tuple[str, ...] = field(default=(), metadata={"pattern": RIN_PATTERN, "shape": "0694-AJ90"})
    agencies: tuple[str, ...] = field(default=(), metadata={"pattern": AGENCY_PATTERN, "shape": "0694"})

    def __post_init__(self):
        if not (self.rins or self.agencies):
            raise ValueError("give at least one of rins or agencies")

    def follows(self, rin: str) -> bool:
        """Whether `rin` is one of this source's: named, or of a named agency."""
        return rin in self.rins or rin[:4] in self.agencies
