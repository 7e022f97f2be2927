"""A `federal_register` source: searches of the FR API v1, and public inspection."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.settings import SourceConfig


@dataclass(frozen=True, kw_only=True)
class FederalRegisterConfig(SourceConfig):
    base_url: str = field(default="https://www.federalregister.gov", metadata={"check": "base_url"})
    agencies: tuple[str, ...] = ()  # FR agency slugs, e.g. "industry-and-security-bureau"
    terms: tuple[str, ...] = ()
    rins: tuple[str, ...] = ()
    cfr_parts: tuple[str, ...] = ()  # "744", "part 744" or "15 CFR 744"
    types: tuple[str, ...] = ()  # RULE, PRORULE, NOTICE, PRESDOCU
    public_inspection: bool = False
