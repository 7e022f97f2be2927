"""Classify a redline as cosmetic, minor or substantive, with reasons.

The rules come from the spec ("Documents, versions, changes"):

- cosmetic: only whitespace or volatile text (a "Last updated" line) differs;
- minor: spelling, case and punctuation edits that touch no number, citation,
  modal verb or negation;
- substantive: everything else, and always a changed number, date, citation,
  ECCN, modal verb or negation, an added or removed sentence or paragraph, a
  paragraph moved to another section, or a changed title.

Each changed paragraph is judged twice. First its whole old and new text are
compared as multisets of "features" (numbers, dates, citations, ECCNs, modal
verbs, negations) and sentences, which does not depend on how the diff split
the words. Then the word-level ops are walked to name the remaining edits
(spelling, case, punctuation, other wording).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from tracker.reading.content import Block
from tracker.redline.compute import diff_words, same_words, words_of
from tracker.redline.model import Hunk, Op, Redline
from tracker.severity.lexicon import Lexicon, default_lexicon
from tracker.severity.model import SEVERITY_ORDER, Assessment, Severity

# At most this many reasons are listed; the rest are summed up as "and N more".
MAX_REASONS = 20

# Quoted text in reasons is cut to this many characters.
QUOTE_CHARS = 60

# A reason lists at most this many changed numbers, citations, modals...
LIST_ITEMS = 4

# A paragraph with more places of undecodable bytes than this is judged as any edit.
MAX_DECODING_SPOTS = 200

# U+FFFD: what a decoder puts where bytes do not decode.
REPLACEMENT = "\ufffd"
_REPLACEMENT_RUN = re.compile(REPLACEMENT + "+")

# Two words this similar (difflib ratio) are taken as a spelling fix of each other.
SPELLING_RATIO = 0.75

# Sentence boundary: end punctuation followed by space and a capital or a quote.
SENTENCE_SPLIT = r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9\"“‘(§])"

_SENTENCE_RE = re.compile(SENTENCE_SPLIT)
_SPACE_RE = re.compile(r"\s+")

# The features compared between old and new text, in reporting order.
FEATURES = ("date", "number", "citation", "ECCN", "modal verb", "negation")

# Features written with digits: punctuation next to one is theirs to report.
NUMERIC_FEATURES = frozenset({"date", "number", "citation", "ECCN"})


@dataclass(frozen=True)
class _Finding:
    severity: Severity
    reason: str


def assess(
    redline: Redline,
    old_links: Iterable[str] = (),
    new_links: Iterable[str] = (),
    lexicon: Lexicon | None = None,
) -> Assessment:
    """Judge a redline, and the links the document gained or lost: the worst severity, and why.

    `lexicon`: the word lists and patterns to judge by; the packaged lexicon.toml by default.
    """
    lex = lexicon or default_lexicon()
    try:
        findings = _judge(redline, lex)
        findings += [_Finding(severity, reason) for severity, reason in assess_links(old_links, new_links, lex)]
    except Exception:  # a bug here must not lose an alert: fail towards "substantive"
        return Assessment("substantive", ("change could not be classified",))
    return _summarize(findings)


def _judge(redline: Redline, lex: Lexicon | None = None) -> list[_Finding]:
    lex = lex or default_lexicon()
    hunks = tuple(redline.hunks or ())
    if _is_first_version(redline, hunks):
        return [_Finding("substantive", "first version")]
    findings = _judge_title(redline.old_title or "", redline.new_title or "")
    decoded = _decoded_pairs(hunks)
    for k, hunk in enumerate(hunks):
        findings.extend(decoded[k] if k in decoded else _judge_hunk(hunk, lex))
    return findings


def _decoded_pairs(hunks: tuple[Hunk, ...]) -> dict[int, list[_Finding]]:
    """A paragraph removed and one added that differ only by decoding are one cosmetic change.

    The diff pairs an edited paragraph with its old text only when it can tell them apart
    from their neighbours; a paragraph repeated on the page can come out as removed
    here and added there, or as moved. Keyed by hunk index: the findings to give instead.
    """
    out: dict[int, list[_Finding]] = {}
    # A "move" of a paragraph the page repeats is the same thing: its text is still there.
    unchanged = {h.old.text for h in hunks if h.kind == "equal" and h.old is not None}
    moves_seen = set()
    for k, h in enumerate(hunks):
        if h.kind != "moved" or h.old is None or h.new is None or not {h.old.text, h.new.text} & unchanged:
            continue
        found = _decoding_change(h.old.text, h.new.text, _where(h.new.section))
        if found is not None:
            move = (h.old.text, h.new.text)
            out[k] = [] if move in moves_seen else found
            moves_seen.add(move)
    removed = [k for k, h in enumerate(hunks) if h.kind == "deleted" and h.old is not None]
    added = [k for k, h in enumerate(hunks) if h.kind == "inserted" and h.new is not None]
    removed_set = set(removed)

    def text(k: int) -> str:
        return hunks[k].old_block.text if k in removed_set else hunks[k].new_block.text

    damaged = [k for k in removed + added if REPLACEMENT in text(k)]
    for k in damaged[:MAX_DECODING_SPOTS]:
        if k in out:
            continue
        # Each U+FFFD stands for at most one character and the whitespace around it.
        slack = 3 * text(k).count(REPLACEMENT)
        for other in added if k in removed_set else removed:
            if other in out or abs(len(text(other)) - len(text(k))) > slack:
                continue
            old, new = (text(k), text(other)) if k in removed_set else (text(other), text(k))
            found = _decoding_change(old, new, _where(hunks[k].section))
            if found is not None:
                out[k], out[other] = found, []
                break
    return out


def _is_first_version(redline: Redline, hunks: tuple[Hunk, ...]) -> bool:
    return not redline.old_title and bool(hunks) and all(h.kind == "inserted" for h in hunks)


def _summarize(findings: list[_Finding]) -> Assessment:
    if not findings:
        return Assessment("cosmetic", ("no visible text changed",))
    severity = max((f.severity for f in findings), key=SEVERITY_ORDER.__getitem__)
    # Worst first; within a severity, document order. dict keeps the first of duplicates.
    ordered = sorted(findings, key=lambda f: -SEVERITY_ORDER[f.severity])
    reasons = list(dict.fromkeys(f.reason for f in ordered))
    if len(reasons) > MAX_REASONS:
        rest = len(reasons) - MAX_REASONS
        reasons = [*reasons[:MAX_REASONS], f"and {rest} more"]
    return Assessment(severity, tuple(reasons))


def _judge_title(old: str, new: str) -> list[_Finding]:
    if old == new:
        return []
    if _fold(old) == _fold(new):
        return [_Finding("cosmetic", "whitespace changed in title")]
    if (decoding := _decoding_change(old, new, " in title")) is not None:
        return decoding
    return [_Finding("substantive", f"title changed: {_quote(old)} → {_quote(new)}")]


def _judge_hunk(hunk: Hunk, lex: Lexicon) -> list[_Finding]:
    where = _where(hunk.section)
    if hunk.kind == "equal":
        return []
    if hunk.kind in ("inserted", "deleted"):
        block = hunk.new if hunk.kind == "inserted" else hunk.old
        return _judge_whole_block(block, "added" if hunk.kind == "inserted" else "removed", where)
    if hunk.kind == "moved":
        return _judge_move(hunk, lex)
    return _judge_edit(hunk.old, hunk.new, hunk.ops, where, lex)


def _judge_whole_block(block: Block | None, verb: str, where: str) -> list[_Finding]:
    if block is None or not block.text.strip():
        return [_Finding("cosmetic", f"empty paragraph {verb}{where}")]
    if not block.text.replace(REPLACEMENT, "").strip():
        arrived = "replaced" if verb == "added" else "gone"
        return [_Finding("cosmetic", f"decoding: {_bytes(1)} {arrived}{where}")]
    if block.volatile:
        return [_Finding("cosmetic", f"volatile text {verb}: {_quote(block.text)}")]
    noun = block.kind if block.kind in ("title", "heading", "item") else "paragraph"
    return [_Finding("substantive", f"{noun} {verb}{where}: {_quote(block.text)}")]


def _judge_move(hunk: Hunk, lex: Lexicon) -> list[_Finding]:
    old, new = hunk.old, hunk.new
    if old is None or new is None:
        return _judge_whole_block(old or new, "moved", _where(hunk.section))
    if old.volatile or new.volatile:
        return [_Finding("cosmetic", f"volatile text moved: {_quote(new.text)}")]
    if old.section != new.section:
        found = [
            _Finding(
                "substantive",
                f"paragraph moved from {old.section or 'the top'} to {new.section or 'the top'}",
            )
        ]
    else:
        found = [_Finding("minor", "paragraph reordered" + _where(old.section))]
    # A moved paragraph may also have been edited on the way; its new label is part of the move.
    edited = _judge_edit(_without_label(old), _without_label(new), (), _where(new.section), lex)
    return found + edited


def _without_label(block: Block) -> Block:
    if block.label and block.text.startswith(block.label):
        return replace(block, text=block.text[len(block.label) :].lstrip())
    return block


def _judge_edit(old: Block | None, new: Block | None, ops: tuple[Op, ...], where: str, lex: Lexicon) -> list[_Finding]:
    old_text = old.text if old else ""
    new_text = new.text if new else ""
    if old_text == new_text:
        return []
    if (old and old.volatile) or (new and new.volatile):
        return [_Finding("cosmetic", f"only volatile text changed: {_quote(old_text)} → {_quote(new_text)}")]
    if _fold(old_text) == _fold(new_text):
        return [_Finding("cosmetic", "whitespace changed" + where)]
    if (decoding := _decoding_change(old_text, new_text, where)) is not None:
        return decoding

    changed, findings = _compare_features(old_text, new_text, where, lex)
    sentence_findings, sentence_texts = _compare_sentences(old_text, new_text, where)
    findings += sentence_findings
    for edit in _edits(ops, old_text, new_text):
        findings += _judge_words(edit, where, changed, sentence_texts, lex)
    if not findings:
        # The texts differ yet no edit was named (odd ops): say so rather than call it nothing.
        findings.append(_wording(old_text, new_text, where))
    return findings


# --- decoding ----------------------------------------------------------------------


def _decoding_change(old: str, new: str, where: str) -> list[_Finding] | None:
    """Findings for texts that differ only where bytes could not be decoded; else None.

    A byte that does not decode becomes one or more U+FFFD, and can take with it the
    character whose bytes it broke into: "§" becomes three of them. So the texts must
    be the same once each run of U+FFFD on one side stands for one character or none
    on the other. The bad byte came or went; the document did not change.
    """
    if REPLACEMENT not in old and REPLACEMENT not in new:
        return None
    if not (_fits_around_replacements(new, old) or _fits_around_replacements(old, new)):
        return None
    came = len(_REPLACEMENT_RUN.findall(new)) - len(_REPLACEMENT_RUN.findall(old))
    if came > 0:
        return [_Finding("cosmetic", f"decoding: {_bytes(came)} replaced{where}")]
    if came < 0:
        return [_Finding("cosmetic", f"decoding: {_bytes(-came)} gone{where}")]
    return [_Finding("cosmetic", f"decoding: undecodable bytes moved{where}")]


def _bytes(count: int) -> str:
    return f"{count} undecodable byte{'s' if count != 1 else ''}"


def _fits_around_replacements(damaged: str, other: str) -> bool:
    """Whether `other` is `damaged` with each run of U+FFFD read as one character or none
    (or as a run of U+FFFD of its own).

    That character is never an ASCII letter or digit: those are single bytes, which a bad
    byte beside them leaves whole. A run that came inside whitespace split it in two
    when the text was folded, so whitespace around a run stands for whitespace there.
    """
    parts = _SPACED_REPLACEMENT_RUN.split(damaged)  # piece, space before, space after, piece, ...
    pieces, spaced = parts[0::3], [bool(a or b) for a, b in zip(parts[1::3], parts[2::3], strict=False)]
    if len(pieces) - 1 > MAX_DECODING_SPOTS or not other.startswith(pieces[0]):
        return False
    # Where `other` may be after each piece: a set, as several readings can fit.
    places = {len(pieces[0])}
    for piece, space in zip(pieces[1:], spaced, strict=False):
        reached = set()
        for place in places:
            for middle in _SPACED_MIDDLES if space else _TIGHT_MIDDLES:
                found = middle.match(other, place)
                if found is None:
                    continue
                end = found.end()
                at_an_edge = place == 0 or end == len(other)  # folding stripped the whitespace there
                if space and not at_an_edge and not any(c.isspace() for c in found.group()):
                    continue
                if other.startswith(piece, end):
                    reached.add(end + len(piece))
        if not reached:
            return False
        places = reached
    return len(other) in places


# What stands in the other text for a run of U+FFFD: nothing, one character that is no
# ASCII letter or digit, or a run of U+FFFD; with whitespace around it if the run had some.
_ONE = r"(?:[^A-Za-z0-9]|\ufffd+)"
_TIGHT_MIDDLES = [re.compile(pattern) for pattern in ("", _ONE)]
_SPACED_MIDDLES = [re.compile(pattern) for pattern in ("", r"\s", _ONE, rf"\s{_ONE}", rf"{_ONE}\s", rf"\s{_ONE}\s")]
_SPACED_REPLACEMENT_RUN = re.compile(r"(\s*)\ufffd+(\s*)")


# --- features: numbers, dates, citations, ECCNs, modals, negations -----------------


def _features(text: str, lex: Lexicon) -> dict[str, Counter[str]]:
    """Count each feature in a text; each match is blanked so it is counted once."""
    found: dict[str, Counter[str]] = {name: Counter() for name in FEATURES}
    rest = text
    # Dates first, so "May 13, 2025" is neither a modal nor two numbers; citations
    # before numbers, so "§ 744.23" is not the number 744.23.
    regexes = (("date", lex.date_re), ("citation", lex.citation_re), ("ECCN", lex.eccn_re), ("number", lex.number_re))
    for name, regex in regexes:
        for match in regex.finditer(rest):
            found[name][_normalize_token(match.group())] += 1
        rest = regex.sub(lambda m: " " * len(m.group()), rest)
    rest = lex.number_sign_re.sub(" ", rest)
    for word in _lexicon_words(rest, lex):
        if word in lex.number_words:
            found["number"][word] += 1
        elif word in lex.modal_words:
            found["modal verb"][word] += 1
        elif word in lex.negation_words:
            found["negation"][word] += 1
    return found


def _compare_features(old_text: str, new_text: str, where: str, lex: Lexicon) -> tuple[set[str], list[_Finding]]:
    """The names of the features that differ, and a finding for each."""
    old, new = _features(old_text, lex), _features(new_text, lex)
    changed: set[str] = set()
    findings: list[_Finding] = []
    for name in FEATURES:
        removed = list((old[name] - new[name]).elements())
        added = list((new[name] - old[name]).elements())
        if not removed and not added:
            continue
        changed.add(name)
        findings.append(_Finding("substantive", _feature_reason(name, removed, added, where)))
    return changed, findings


def _feature_reason(name: str, removed: list[str], added: list[str], where: str) -> str:
    if name == "negation":
        if removed and added:
            return f"negation changed: {_quote_all(removed)} → {_quote_all(added)}{where}"
        return f"negation {'added' if added else 'removed'}{where}"
    if name == "modal verb":
        if removed and added:
            return f"modal verb changed: {_quote_all(removed)} → {_quote_all(added)}{where}"
        return f"modal verb {'added' if added else 'removed'}: {_quote_all(added or removed)}{where}"
    if removed and added:
        return f"{name} changed: {_listing(removed)} → {_listing(added)}{where}"
    return f"{name} {'added' if added else 'removed'}: {_listing(added or removed)}{where}"


# --- sentences ---------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s for s in (_fold(p) for p in _SENTENCE_RE.split(text)) if s]


def _compare_sentences(old_text: str, new_text: str, where: str) -> tuple[list[_Finding], list[str]]:
    """Report sentences added or removed; also return their texts."""
    old, new = _sentences(old_text), _sentences(new_text)
    findings, texts = [], []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (i2 - i1) == (j2 - j1):
            continue  # same number of sentences: the word-level pass names the edit
        if same_words(" ".join(old[i1:i2]), " ".join(new[j1:j2])):
            continue  # sentences split or joined by punctuation alone
        if (j2 - j1) > (i2 - i1):
            gone, verb = new[j1:j2], "added"
        else:
            gone, verb = old[i1:i2], "removed"
        texts.extend(gone)
        noun = "sentence" if abs((j2 - j1) - (i2 - i1)) == 1 else "sentences"
        findings.append(_Finding("substantive", f"{noun} {verb}{where}: {_quote(' '.join(gone))}"))
    return findings, texts


# --- word-level edits ----------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    """One run of deleted and/or inserted text, with the words either side of it."""

    deleted: str
    inserted: str
    before: str
    after: str


_WORD_START = re.compile(r"\S*")


def _edits(ops: tuple[Op, ...], old_text: str, new_text: str) -> list[_Edit]:
    """Runs of changed text, widened to whole words.

    The diff may cut inside a word ("rec[-ie-]{+ei+}ve"), so a run goes on
    until an unchanged stretch holding a space, and takes in the rest of the
    words it starts and ends in. Runs parted only by spaces are joined.
    """
    if not _ops_rebuild(ops, old_text, new_text):
        ops = tuple(diff_words(old_text, new_text))
    edits: list[_Edit] = []
    before = ""  # unchanged text since the last run
    deleted: str | None = None  # None while no run is open
    inserted = ""
    for op in ops:
        if op.op != "equal":
            if deleted is None:
                # The word the run starts in; read backwards: a search for r"\S*$" tries every
                # start in a long word, quadratic in its length.
                word_end = _WORD_START.match(before[::-1])
                assert word_end is not None  # \S* matches every text, if only emptily
                start = len(before) - word_end.end()
                before, word = before[:start], before[start:]
                deleted = inserted = word
            if op.op == "delete":
                deleted += op.text
            else:
                inserted += op.text
        elif deleted is None:
            before += op.text
        else:
            space = re.search(r"\s", op.text)
            if space is None or not op.text.strip():
                deleted += op.text  # inside a word, or only space before the next run
                inserted += op.text
                continue
            word, rest = op.text[: space.start()], op.text[space.start() :]
            edits.append(_Edit(deleted + word, inserted + word, before, rest))
            deleted, before = None, rest
    if deleted is not None:
        edits.append(_Edit(deleted, inserted, before, ""))
    return edits


def _ops_rebuild(ops: tuple[Op, ...], old_text: str, new_text: str) -> bool:
    """Whether the ops are a usable word diff of exactly these two texts."""
    if not any(op.op != "equal" for op in ops):
        return False
    old = "".join(op.text for op in ops if op.op != "insert")
    new = "".join(op.text for op in ops if op.op != "delete")
    return old == old_text and new == new_text


def _judge_words(edit: _Edit, where: str, changed: set[str], sentence_texts: list[str], lex: Lexicon) -> list[_Finding]:
    """Name one edit; words of features in `changed` were reported already."""
    old, new = _fold(edit.deleted), _fold(edit.inserted)
    if old == new:
        return []
    if old.lower() == new.lower():
        return [_Finding("minor", f"case changed{where}: {_quote(old)} → {_quote(new)}")]
    if same_words(old, new):
        return _judge_punctuation(edit, old, new, where, changed, lex)
    old_words, new_words = words_of(old), words_of(new)

    if not (old_words and new_words):
        if changed and all(_is_feature_word(w, lex) for w in old_words + new_words):
            return []
        if _inside_sentences(old_words + new_words, sentence_texts):
            return []
        verb = "removed" if old_words else "added"
        return [_Finding("substantive", f"words {verb}{where}: {_quote(old or new)}")]

    findings = []
    matcher = difflib.SequenceMatcher(
        None, [w.lower() for w in old_words], [w.lower() for w in new_words], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        gone, came = old_words[i1:i2], new_words[j1:j2]
        if changed and all(_is_feature_word(w, lex) for w in gone + came):
            continue  # already reported as a number / modal / negation ... change
        if tag == "replace" and len(gone) == len(came):
            findings += [_judge_word_pair(a, b, where, lex) for a, b in zip(gone, came, strict=False) if a != b]
        elif tag == "replace":
            findings.append(_wording(" ".join(gone), " ".join(came), where))
        elif not _inside_sentences(gone + came, sentence_texts):
            verb = "removed" if gone else "added"
            findings.append(_Finding("substantive", f"words {verb}{where}: {_quote(' '.join(gone or came))}"))
    return findings


def _judge_word_pair(old: str, new: str, where: str, lex: Lexicon) -> _Finding:
    if old.lower() == new.lower():
        return _Finding("minor", f"case changed{where}: {_quote(old)} → {_quote(new)}")
    if _is_spelling_fix(old, new, lex):
        return _Finding("minor", f"spelling: {_quote(old)} → {_quote(new)}{where}")
    return _wording(old, new, where)


def _wording(old: str, new: str, where: str) -> _Finding:
    return _Finding("substantive", f"wording changed{where}: {_quote(old)} → {_quote(new)}")


def _is_spelling_fix(old: str, new: str, lex: Lexicon) -> bool:
    a, b = old.lower(), new.lower()
    if not (a.isalpha() and b.isalpha()) or a[0] != b[0]:
        return False  # a different first letter is a prefix ("lawful" / "unlawful"), not a typo
    if a in lex.steering_words or b in lex.steering_words:
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= SPELLING_RATIO


def _judge_punctuation(edit: _Edit, old: str, new: str, where: str, changed: set[str], lex: Lexicon) -> list[_Finding]:
    """Punctuation-only edit: minor unless it sits on a number, citation, modal or negation."""
    # The edit spans whole space-separated tokens, so the words it holds are the
    # ones its punctuation touches; a lone mark touches the words either side.
    neighbours = words_of(old) or words_of(edit.before)[-1:] + words_of(edit.after)[:1]
    touches_number = "§" in old + new or any(any(c.isdigit() for c in w) for w in neighbours)
    if touches_number:
        if changed & NUMERIC_FEATURES:
            return []  # the changed number or citation is already a reason
        reason = f"punctuation changed next to a number{where}: {_quote(old)} → {_quote(new)}"
        return [_Finding("substantive", reason)]
    touched = [w for w in neighbours if w.lower() in lex.modal_words or w.lower() in lex.negation_words]
    if touched:
        return [_Finding("substantive", f"punctuation changed next to {_quote(touched[0])}{where}")]
    return [_Finding("minor", "punctuation changed" + where)]


def _is_feature_word(word: str, lex: Lexicon) -> bool:
    w = word.lower()
    return (
        any(c.isdigit() for c in w)
        or w in lex.modal_words
        or w in lex.negation_words
        or w in lex.number_words
        or w in lex.contractions
        or word in lex.months
    )


def _inside_sentences(words: list[str], sentence_texts: list[str]) -> bool:
    """Whether these words are part of a sentence already reported as added/removed."""
    if not words or not sentence_texts:
        return False
    needle = " ".join(w.lower() for w in words)
    return any(needle in " ".join(words_of(s.lower())) for s in sentence_texts)


# --- small text helpers ------------------------------------------------------------------


def _lexicon_words(text: str, lex: Lexicon) -> list[str]:
    """Lower-case words with contractions split: "can't" → "can", "not"."""
    out: list[str] = []
    for raw in words_of(text.replace("’", "'")):
        word = raw.lower()
        if word in lex.contractions:
            out.extend(lex.contractions[word])
        elif word.endswith("n't"):
            out.extend((word[:-3], "not"))
        else:
            out.append(word)
    return out


def _normalize_token(token: str) -> str:
    return re.sub(r"§\s*", "§ ", _fold(token))


def _fold(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def _where(section: str) -> str:
    return f" in {section}" if section else ""


def _quote(text: str) -> str:
    text = _fold(text)
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1].rstrip() + "…"
    return f"'{text}'"


def _quote_all(words: list[str]) -> str:
    return _listing([f"'{w}'" for w in words])


def _listing(items: list[str]) -> str:
    """Distinct items in order, at most a few: a reason stays one line."""
    distinct = list(dict.fromkeys(items))
    shown = ", ".join(distinct[:LIST_ITEMS])
    return shown + ", …" if len(distinct) > LIST_ITEMS else shown


# --- links -------------------------------------------------------------------------------

# At most this many link findings are listed; the rest are summed up as "and N more".
MAX_LINK_REASONS = 10


def assess_links(
    old_links: Iterable[str] | None, new_links: Iterable[str] | None, lexicon: Lexicon | None = None
) -> list[tuple[Severity, str]]:
    """Findings (severity, reason) for the links a document gained or lost.

    A document's outgoing links are part of what is tracked: a new PDF linked
    from a press release is news even before the PDF itself is fetched. A link
    to a document added or removed is substantive; any other link is minor.
    Substantive findings come first, then document order; the list is capped.
    """
    old = list(dict.fromkeys(old_links or ()))
    new = list(dict.fromkeys(new_links or ()))
    old_set, new_set = set(old), set(new)
    changes = [("added", url) for url in new if url not in old_set]
    changes += [("removed", url) for url in old if url not in new_set]
    findings: list[tuple[Severity, str]] = []
    for verb, url in changes:
        if _is_document_link(url, lexicon or default_lexicon()):
            findings.append(("substantive", f"linked document {verb}: {url}"))
        else:
            findings.append(("minor", f"link {verb}: {url}"))
    findings.sort(key=lambda finding: -SEVERITY_ORDER[finding[0]])  # stable: document order kept
    if len(findings) > MAX_LINK_REASONS:
        rest = findings[MAX_LINK_REASONS:]
        findings = [*findings[:MAX_LINK_REASONS], (rest[0][0], f"and {len(rest)} more links changed")]
    return findings


def _is_document_link(url: str, lex: Lexicon) -> bool:
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url
    return bool(lex.document_link_re.search(path))
