"""A redline: the difference between two contents, paragraph by paragraph, word by word."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tracker.reading.content import Block

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

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"op": self.op, "text": self.text, "section": self.section or None}
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

    @property
    def old_block(self) -> Block:
        """The old block, which every hunk but an `inserted` one has."""
        assert self.old is not None, f"a {self.kind} hunk without its old block"
        return self.old

    @property
    def new_block(self) -> Block:
        """The new block, which every hunk but a `deleted` one has."""
        assert self.new is not None, f"a {self.kind} hunk without its new block"
        return self.new


@dataclass(frozen=True)
class Redline:
    """The difference between two contents, paragraph by paragraph."""

    old_title: str
    new_title: str
    hunks: tuple[Hunk, ...]

    @property
    def changed(self) -> bool:
        return self.old_title != self.new_title or any(h.kind != "equal" for h in self.hunks)

    def to_json(self) -> dict:
        """Everything the redline holds, for the cache by version pair (storage.redline_cache)."""
        return {
            "old_title": self.old_title,
            "new_title": self.new_title,
            "hunks": [
                {
                    "kind": h.kind,
                    "old": h.old.to_json() if h.old else None,
                    "new": h.new.to_json() if h.new else None,
                    "ops": [[o.op, o.text, o.section, o.move, o.move_id] for o in h.ops],
                }
                for h in self.hunks
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Redline:
        return cls(
            old_title=data["old_title"],
            new_title=data["new_title"],
            hunks=tuple(
                Hunk(
                    kind=h["kind"],
                    old=Block.from_json(h["old"]) if h["old"] else None,
                    new=Block.from_json(h["new"]) if h["new"] else None,
                    ops=tuple(Op(op, text, section, move, move_id) for op, text, section, move, move_id in h["ops"]),
                )
                for h in data["hunks"]
            ),
        )
