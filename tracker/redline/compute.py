"""Redlines: which paragraphs changed between two contents, and how, word by word.

A plain diff_match_patch run over a whole regulation takes seconds in pure
Python, so the diff works in cheap steps instead:

1. Align the two block sequences, each block one item compared by its text:
   blocks unique on both sides anchor the alignment, difflib's SequenceMatcher
   (autojunk off) fills the gaps. On the 1.1 MB benchmark this takes ~15 ms
   where dmp's line mode takes ~700 ms for the same alignment.
2. Inside each replaced region (old blocks replaced by new ones), pair blocks
   that are the same paragraph: similar words, or the same label at the same
   place. Pairs become `changed` hunks, the rest `deleted` / `inserted`.
3. Word-diff each pair: tokens (words, whitespace, punctuation) are encoded
   as one character each, diffed by dmp and cleaned up semantically.
4. A deleted block that reappears elsewhere, identical or nearly so, is a
   move: a `moved` hunk at each place.

Moves keep whole-paragraph ops (delete at the old place, insert at the new
one) so that the ops always rebuild both texts; when the moved paragraph was
also edited, the renderers show the word diff at its new place.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_left, bisect_right
from collections import Counter

from diff_match_patch import diff_match_patch

from tracker.reading.content import Block, Content
from tracker.redline.model import Hunk, Op, OpKind, Redline

__all__ = ["diff_contents", "diff_words", "same_words", "words_of"]

# A number such as 744.23, 1,000 or 2025-01-15 stays one token, so a changed
# number shows as one replaced token rather than a few changed digits.
_TOKEN = re.compile(r"\w+(?:[.,:/-]\w+)*|\s+|[^\w\s]")
# A word as a reader counts it, keeping inner apostrophes ("can't"), hyphens ("end-use")
# and dots ("5A992.c"); the pairing of paragraphs and the severity rules count these.
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")

# Raise it with any change to what diff_contents returns: redlines kept by version pair
# (storage.redline_cache) under an older revision are then computed again.
# tests/tracker/test_redline_cache.py fails when the output changes and this does not.
REDLINE_REVISION = "1"

PAIR_MIN_SIMILARITY = 0.5
MOVE_MIN_SIMILARITY = 0.9
MOVE_MIN_WORDS = 3  # shorter paragraphs ("[Reserved]") are too common to call moves
_DP_MAX_CELLS = 40_000  # larger replaced regions are paired greedily
_GREEDY_WINDOW = 50
_MOVE_SEARCH_BUDGET = 200_000  # similarity checks spent looking for edited moves
_EXACT_MAX_TOKENS = 20_000  # bigger pairs get dmp's time limit (still a valid diff)


def diff_contents(old: Content | None, new: Content) -> Redline:
    """The redline from `old` to `new`; with no `old`, everything is inserted."""
    old_blocks = list(old.blocks) if old is not None else []
    new_blocks = list(new.blocks)
    opcodes = _align([b.text for b in old_blocks], [b.text for b in new_blocks])
    differ = _Differ()
    # Text deleted in one place and inserted in another is a move: keep it out
    # of the pairing so that it is not taken for an edit of a similar paragraph.
    replaced = [(old_blocks[i1:i2], new_blocks[j1:j2]) for tag, i1, i2, j1, j2 in opcodes if tag != "equal"]
    gone = {block.text for olds, _ in replaced for block in olds}
    came = {block.text for _, news in replaced for block in news}
    differ.moving = {text for text in gone & came if differ.movable(text)}

    hunks: list[Hunk] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for old_block, new_block in zip(old_blocks[i1:i2], new_blocks[j1:j2], strict=False):
                hunks.append(_equal(old_block, new_block))
        else:
            hunks.extend(differ.region(old_blocks[i1:i2], new_blocks[j1:j2]))
    hunks = differ.find_moves(hunks)
    return Redline(old.title if old is not None else "", new.title, tuple(hunks))


def _align(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes ("equal" or "replace", i1, i2, j1, j2) matching two text lists.

    Texts found exactly once on each side anchor the alignment (the longest
    run of them in the same order, as in patience diff); difflib aligns the
    gaps between anchors. difflib alone matches the longest common run first,
    so two paragraphs moved together could hijack an alignment in which
    everything else was edited.
    """
    old_counts, new_counts = Counter(old), Counter(new)
    new_unique = {text: j for j, text in enumerate(new) if new_counts[text] == 1}
    candidates = [(i, new_unique[text]) for i, text in enumerate(old) if old_counts[text] == 1 and text in new_unique]
    matches: list[tuple[int, int, int]] = []  # (i, j, size)
    done_old = done_new = 0
    for i, j in [*_longest_increasing(candidates), (len(old), len(new))]:
        for gi, gj, size in _gap_matches(old[done_old:i], new[done_new:j]):
            matches.append((done_old + gi, done_new + gj, size))
        matches.append((i, j, 1))
        done_old, done_new = i + 1, j + 1
    matches[-1] = (len(old), len(new), 0)

    opcodes = []
    i = j = 0
    for mi, mj, size in matches:
        if i < mi or j < mj:
            opcodes.append(("replace", i, mi, j, mj))
        if size:
            opcodes.append(("equal", mi, mi + size, mj, mj + size))
        i, j = mi + size, mj + size
    return opcodes


def _gap_matches(old: list[str], new: list[str]) -> list[tuple[int, int, int]]:
    """Runs (i, j, size) of equal texts between two anchors, in order.

    A small gap gets a longest common subsequence: difflib matches the longest run
    first, so with paragraphs repeated in pairs it could line up the first pair of one
    side with the second of the other and leave the rest unmatched. A big gap
    (more than _DP_MAX_CELLS) gets difflib's matching.
    """
    m, n = len(old), len(new)
    if not m or not n:
        return []
    if m * n > _DP_MAX_CELLS:
        found = difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks()[:-1]
        return [(match.a, match.b, match.size) for match in found]
    # common[i][j]: the length of a longest common subsequence of old[i:] and new[j:]
    common = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        row, below, text = common[i], common[i + 1], old[i]
        for j in range(n - 1, -1, -1):
            row[j] = below[j + 1] + 1 if text == new[j] else max(below[j], row[j + 1])
    runs: list[list[int]] = []
    i = j = 0
    while i < m and j < n:
        if old[i] == new[j]:
            if runs and runs[-1][0] + runs[-1][2] == i and runs[-1][1] + runs[-1][2] == j:
                runs[-1][2] += 1
            else:
                runs.append([i, j, 1])
            i, j = i + 1, j + 1
        elif common[i + 1][j] >= common[i][j + 1]:
            i += 1
        else:
            j += 1
    return [(i, j, size) for i, j, size in runs]


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of `pairs` (sorted by first item) increasing in the second."""
    tails: list[int] = []  # tails[k]: index of the smallest end of a run of length k + 1
    tail_values: list[int] = []
    back = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        k = bisect_left(tail_values, j)
        if k:
            back[index] = tails[k - 1]
        if k == len(tails):
            tails.append(index)
            tail_values.append(j)
        else:
            tails[k] = index
            tail_values[k] = j
    run = []
    index = tails[-1] if tails else -1
    while index >= 0:
        run.append(pairs[index])
        index = back[index]
    return run[::-1]


def diff_words(old_text: str, new_text: str, section: str = "") -> list[Op]:
    """A word-level redline of two strings."""
    return _Differ().word_ops(old_text, new_text, section)


def words_of(text: str) -> list[str]:
    """The words of a text, in order, punctuation and spacing left out."""
    return _WORD.findall(text)


def same_words(a: str, b: str) -> bool:
    """Whether two texts differ at most in case, punctuation and spacing."""
    return [w.lower() for w in words_of(a)] == [w.lower() for w in words_of(b)]


def _equal(old: Block, new: Block) -> Hunk:
    return Hunk("equal", old, new, (Op("equal", new.text, new.section),))


def _deleted(block: Block) -> Hunk:
    return Hunk("deleted", block, None, (Op("delete", block.text, block.section),))


def _inserted(block: Block) -> Hunk:
    return Hunk("inserted", None, block, (Op("insert", block.text, block.section),))


def _rewritten_ops(old_text: str, new_text: str, section: str) -> list[Op]:
    """Common leading and trailing tokens kept, everything between replaced."""
    old_tokens, new_tokens = _TOKEN.findall(old_text), _TOKEN.findall(new_text)
    limit = min(len(old_tokens), len(new_tokens))
    head = 0
    while head < limit and old_tokens[head] == new_tokens[head]:
        head += 1
    tail = 0
    while tail < limit - head and old_tokens[-1 - tail] == new_tokens[-1 - tail]:
        tail += 1
    pieces: list[tuple[OpKind, list[str]]] = [
        ("equal", old_tokens[:head]),
        ("delete", old_tokens[head : len(old_tokens) - tail]),
        ("insert", new_tokens[head : len(new_tokens) - tail]),
        ("equal", new_tokens[len(new_tokens) - tail :]),
    ]
    return [Op(kind, "".join(tokens), section) for kind, tokens in pieces if tokens]


def _similarity(a: frozenset, b: frozenset) -> float:
    """Dice coefficient of two word sets."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def _code_point(n: int) -> str:
    n += 0x100
    if n >= 0xD800:  # skip the surrogates
        n += 0x800
    return chr(n)


_MAX_CODES = 0x10FFFF - 0x100 - 0x800

# diff_match_patch's operation codes
_DMP_KINDS: dict[int, OpKind] = {0: "equal", 1: "insert", -1: "delete"}


class _Differ:
    """State shared by one diff: the token codec and word sets, both cached."""

    def __init__(self) -> None:
        self.exact = diff_match_patch()
        self.exact.Diff_Timeout = 0
        self.bounded = diff_match_patch()
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.word_sets: dict[str, frozenset] = {}
        self.moving: set[str] = set()  # texts of exact moves

    # -- words ------------------------------------------------------------

    def words(self, text: str) -> frozenset:
        found = self.word_sets.get(text)
        if found is None:
            found = frozenset(w.lower() for w in words_of(text))
            self.word_sets[text] = found
        return found

    def encode(self, tokens: list[str]) -> str:
        codes = self.codes
        out = []
        for token in tokens:
            code = codes.get(token)
            if code is None:
                code = _code_point(len(codes))
                codes[token] = code
                self.tokens[code] = token
            out.append(code)
        return "".join(out)

    def word_ops(self, old_text: str, new_text: str, section: str) -> list[Op]:
        old_tokens = _TOKEN.findall(old_text)
        new_tokens = _TOKEN.findall(new_text)
        if len(self.codes) + len(old_tokens) + len(new_tokens) > _MAX_CODES:
            self.codes.clear()
            self.tokens.clear()
        size = len(old_tokens) + len(new_tokens)
        if size > _MAX_CODES:  # absurdly long paragraph: diff its characters
            diffs = self.bounded.diff_main(old_text, new_text)
        else:
            dmp = self.exact if size <= _EXACT_MAX_TOKENS else self.bounded
            diffs = dmp.diff_main(self.encode(old_tokens), self.encode(new_tokens), False)
            tokens = self.tokens
            diffs = [(kind, "".join(map(tokens.__getitem__, chars))) for kind, chars in diffs]
        self.exact.diff_cleanupSemantic(diffs)
        return [Op(_DMP_KINDS[kind], text, section) for kind, text in diffs if text]

    # -- pairing ------------------------------------------------------------

    def region(self, olds: list[Block], news: list[Block]) -> list[Hunk]:
        """Hunks for old blocks replaced by new ones, in order."""
        out: list[Hunk] = []
        done_old = done_new = 0
        for i, j in [*self.pair(olds, news), (len(olds), len(news))]:
            out.extend(_deleted(block) for block in olds[done_old:i])
            out.extend(_inserted(block) for block in news[done_new:j])
            if i < len(olds):
                out.append(self.changed(olds[i], news[j]))
            done_old, done_new = i + 1, j + 1
        return out

    def changed(self, old: Block, new: Block) -> Hunk:
        if self.similarity(old, new) >= PAIR_MIN_SIMILARITY:
            ops = self.word_ops(old.text, new.text, new.section)
        else:
            # Paired only by its label: the paragraph was rewritten. A word diff
            # of unrelated texts is noise (and dmp's slowest case), so show the
            # shared start and end and replace the rest whole.
            ops = _rewritten_ops(old.text, new.text, new.section)
        return Hunk("changed", old, new, tuple(ops))

    def similarity(self, old: Block, new: Block) -> float:
        return _similarity(self.words(old.text), self.words(new.text))

    def weight(self, old: Block, new: Block) -> float:
        """How good a pair the two blocks make; 0 when they are no pair."""
        if old.text in self.moving or new.text in self.moving:
            return 0.0
        similarity = self.similarity(old, new)
        # A labeled paragraph rewritten at the same place is an edit of it.
        same_place = bool(old.label) and old.label == new.label and old.section == new.section
        if same_place:
            return similarity + 0.5
        return similarity if similarity >= PAIR_MIN_SIMILARITY else 0.0

    def pair(self, olds: list[Block], news: list[Block]) -> list[tuple[int, int]]:
        """Order-keeping pairs (i, j) of the best total weight."""
        m, n = len(olds), len(news)
        if not m or not n:
            return []
        if m * n > _DP_MAX_CELLS:
            return self.pair_greedy(olds, news)
        weights = [[self.weight(a, b) for b in news] for a in olds]
        # best[i][j]: the best total weight for olds[i:] against news[j:]
        best = [[0.0] * (n + 1) for _ in range(m + 1)]
        for i in range(m - 1, -1, -1):
            row, below, w = best[i], best[i + 1], weights[i]
            for j in range(n - 1, -1, -1):
                take = w[j] + below[j + 1] if w[j] else 0.0
                row[j] = max(below[j], row[j + 1], take)
        pairs = []
        i = j = 0
        while i < m and j < n:
            if weights[i][j] and best[i][j] == weights[i][j] + best[i + 1][j + 1]:
                pairs.append((i, j))
                i, j = i + 1, j + 1
            elif best[i][j] == best[i + 1][j]:
                i += 1
            else:
                j += 1
        return pairs

    def pair_greedy(self, olds: list[Block], news: list[Block]) -> list[tuple[int, int]]:
        """Each old block takes its best match among the next few new ones."""
        pairs = []
        start = 0
        for i, old in enumerate(olds):
            best_weight, best_j = 0.0, -1
            for j in range(start, min(len(news), start + _GREEDY_WINDOW)):
                weight = self.weight(old, news[j])
                if weight > best_weight:
                    best_weight, best_j = weight, j
            if best_j >= 0:
                pairs.append((i, best_j))
                start = best_j + 1
        return pairs

    # -- moves --------------------------------------------------------------

    def movable(self, text: str) -> bool:
        return len(self.words(text)) >= MOVE_MIN_WORDS

    def find_moves(self, hunks: list[Hunk]) -> list[Hunk]:
        """Turn deleted + inserted hunks of the same paragraph into moves."""
        deleted = [k for k, h in enumerate(hunks) if h.kind == "deleted" and self.movable(h.old_block.text)]
        inserted = [k for k, h in enumerate(hunks) if h.kind == "inserted" and self.movable(h.new_block.text)]
        if not deleted or not inserted:
            return hunks

        matches: list[tuple[int, int]] = []
        by_text: dict[str, list[int]] = {}
        for k in inserted:
            by_text.setdefault(hunks[k].new_block.text, []).append(k)
        left = []
        for k in deleted:
            same = by_text.get(hunks[k].old_block.text)
            if same:
                matches.append((k, same.pop(0)))
            else:
                left.append(k)

        # Nearly equal paragraphs: Dice >= 0.9 needs word counts within about
        # 20% of each other, so only those are compared.
        used = {k for _, k in matches}
        free = sorted((len(self.words(hunks[k].new_block.text)), k) for k in inserted if k not in used)
        sizes = [size for size, _ in free]
        budget = _MOVE_SEARCH_BUDGET
        for k in left:
            words = self.words(hunks[k].old_block.text)
            lo = bisect_left(sizes, len(words) * 0.8)
            hi = bisect_right(sizes, len(words) * 1.25)
            best, best_k = 0.0, -1
            for _, cand in free[lo:hi]:
                if cand in used:
                    continue
                budget -= 1
                similarity = _similarity(words, self.words(hunks[cand].new_block.text))
                if similarity >= MOVE_MIN_SIMILARITY and similarity > best:
                    best, best_k = similarity, cand
            if best_k >= 0:
                matches.append((k, best_k))
                used.add(best_k)
            if budget <= 0:
                break

        out = list(hunks)
        for move_id, (d, i) in enumerate(sorted(matches), start=1):
            old, new = hunks[d].old_block, hunks[i].new_block
            gone = Op("delete", old.text, old.section, move="from", move_id=move_id)
            came = Op("insert", new.text, new.section, move="to", move_id=move_id)
            out[d] = Hunk("moved", old, new, (gone,))
            out[i] = Hunk("moved", old, new, (came,))
        return out


# -- ops ------------------------------------------------------------------------
