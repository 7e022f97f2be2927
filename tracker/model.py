"""The shapes tracker modules pass between each other.

A fetched body becomes a `Content` (normalize), two contents become a `Redline`
(diff), and a redline gets a severity with reasons (severity). These types know
nothing about HTTP or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    def from_json(cls, data: dict) -> "Block":
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
    def from_json(cls, data: dict) -> "Content":
        return cls(
            title=data.get("title", ""),
            blocks=tuple(Block.from_json(b) for b in data.get("blocks", [])),
            links=tuple(data.get("links", [])),
        )


OpKind = Literal["equal", "insert", "delete"]


@dataclass(frozen=True)
class Op:
    """One run of words in a redline.

    `section` is the anchor of the block the words belong to. `move` is set on
    the delete/insert pair of a paragraph that moved: "from" at the old place,
    "to" at the new one, both sharing `move_id`.
    """

    op: OpKind
    text: str
    section: str = ""
    move: Literal["", "from", "to"] = ""
    move_id: int = 0

    def to_json(self) -> dict:
        data: dict = {"op": self.op, "text": self.text, "section": self.section or None}
        if self.move:
            data["move"] = self.move
            data["move_id"] = self.move_id
        return data


HunkKind = Literal["equal", "changed", "inserted", "deleted", "moved"]


@dataclass(frozen=True)
class Hunk:
    """A paragraph-level piece of a redline.

    `equal`: same block in both; `changed`: a block edited in place (ops hold the
    word-level redline); `inserted` / `deleted`: a block only in one version;
    `moved`: the same block at another position (old and new both set).
    """

    kind: HunkKind
    old: Block | None
    new: Block | None
    ops: tuple[Op, ...] = field(default=())

    @property
    def section(self) -> str:
        block = self.new or self.old
        return block.section if block else ""


@dataclass(frozen=True)
class Redline:
    """The difference between two contents, paragraph by paragraph."""

    old_title: str
    new_title: str
    hunks: tuple[Hunk, ...]

    @property
    def changed(self) -> bool:
        return self.old_title != self.new_title or any(h.kind != "equal" for h in self.hunks)


Severity = Literal["cosmetic", "minor", "substantive"]
SEVERITY_ORDER: dict[str, int] = {"cosmetic": 0, "minor": 1, "substantive": 2}


@dataclass(frozen=True)
class Assessment:
    severity: Severity
    reasons: tuple[str, ...]
