"""What reading a fetched body gives: Content, a title and Blocks with their labels and sections.

These types know nothing about HTTP or the database; `content_hash` decides "changed".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["title", "heading", "paragraph", "item"]


@dataclass(frozen=True)
class Block:
    """One paragraph-like unit of normalized content.

    `label` is the block's own label ("§ 744.23", "(a)", "(2)") when it starts
    with one; `section` is the full anchor it falls in, built from the enclosing
    headings and labels ("§ 744.23(a)(2)"). `volatile` marks text that changes on
    its own (a "Last updated" line, a counter) and so can never be substantive.
    """

    text: str
    kind: BlockKind = "paragraph"
    label: str = ""
    section: str = ""
    volatile: bool = False

    def to_json(self) -> dict:
        data: dict = {"text": self.text, "kind": self.kind}
        if self.label:
            data["label"] = self.label
        if self.section:
            data["section"] = self.section
        if self.volatile:
            data["volatile"] = True
        return data

    @classmethod
    def from_json(cls, data: dict) -> Block:
        return cls(
            text=data["text"],
            kind=data.get("kind", "paragraph"),
            label=data.get("label", ""),
            section=data.get("section", ""),
            volatile=bool(data.get("volatile", False)),
        )


@dataclass(frozen=True)
class Content:
    """Normalized content of one fetched document."""

    title: str
    blocks: tuple[Block, ...]
    links: tuple[str, ...] = ()

    def text(self) -> str:
        """The plain text, one block per line: what is compared and hashed."""
        return "\n".join(block.text for block in self.blocks)

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "blocks": [block.to_json() for block in self.blocks],
            "links": list(self.links),
        }

    @classmethod
    def from_json(cls, data: dict) -> Content:
        return cls(
            title=data.get("title", ""),
            blocks=tuple(Block.from_json(b) for b in data.get("blocks", [])),
            links=tuple(data.get("links", [])),
        )


# --- hashing ----------------------------------------------------------------


def content_hash(content: Content) -> str:
    """SHA-256 hex of the title, each block's kind and text, and the links."""
    # Labels, sections and volatility derive from the text; links count because a newly linked PDF is news.
    canonical = json.dumps(
        [content.title, [[b.kind, b.text] for b in content.blocks], list(content.links)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
