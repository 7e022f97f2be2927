"""How every fetched XML is parsed: no DTD, no entities, no network, no huge trees.

One owner for spiders (which may not import the reading layer) and readers alike.
"""

from __future__ import annotations

from typing import Any

from lxml import etree


def safe_xml_options(**options: Any) -> dict[str, Any]:
    """lxml parser options for untrusted XML; `options` add to them (recover, encoding…)."""
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
        **options,
    }


def safe_xml_parser(**options: Any) -> etree.XMLParser:
    return etree.XMLParser(**safe_xml_options(**options))
