"""The registry of source kinds: a kind is one package here and one line below."""

from __future__ import annotations

from tracker.kinds import ecfr, federal_register, page, reginfo, site
from tracker.kinds.base import Kind

KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (page.KIND, site.KIND, federal_register.KIND, ecfr.KIND, reginfo.KIND)
}


def kind_of(name: str) -> Kind:
    return KINDS[name]
