"""A change's severity and its reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["cosmetic", "minor", "substantive"]
SEVERITY_ORDER: dict[str, int] = {"cosmetic": 0, "minor": 1, "substantive": 2}


@dataclass(frozen=True)
class Assessment:
    severity: Severity
    reasons: tuple[str, ...]
