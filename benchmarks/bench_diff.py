"""Benchmark: Rulewatch's redline against a plain diff_match_patch run.

    python benchmarks/bench_diff.py [--size BYTES] [--rewrite FRACTION] [--seed N]

Builds a regulation-like document (seeded, so every run sees the same text),
rewrites a fraction of its paragraphs, then times
  (a) plain pure-Python dmp: diff_main(old_text, new_text) + diff_cleanupSemantic,
      with Diff_Timeout = 0 (exact) and with the default 1 s timeout, and
  (b) tracker.redline.compute.diff_contents.
It also checks on single small edits that the changed words diff_contents
reports are those of a plain dmp word diff of the whole text.
Exits 1 when the speedup over exact dmp is under 20x or a quality check fails.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import diff_match_patch as dmp_module
from diff_match_patch import diff_match_patch

from tracker.reading.content import Block, Content
from tracker.redline.compute import diff_contents
from tracker.redline.model import Redline
from tracker.redline.render import redline_ops

MIN_SPEEDUP = 20.0

PHRASES = [
    "a license is required",
    "for the export, reexport, or transfer (in-country)",
    "of any item subject to the EAR",
    "when the exporter has knowledge",
    "that the item will be used",
    "in the design, development, production, or use",
    "of a supercomputer",
    "located in or destined to a country",
    "specified in Country Group D:1",
    "except as provided in paragraph",
    "of this section",
    "the Bureau of Industry and Security",
    "may inform the exporter",
    "either individually by specific notice or through amendment",
    "to the Export Administration Regulations",
    "an end user or end use",
    "of concern",
    "license applications will be reviewed",
    "with a presumption of denial",
    "on a case-by-case basis",
    "taking into account",
    "the significance of the transaction",
    "advanced computing items",
    "integrated circuits",
    "classified under ECCN",
    "or related software and technology",
    "shall be submitted",
    "no later than",
    "the effective date",
    "of this rule",
    "the Secretary of Commerce",
    "in consultation with",
    "the Departments of State, Defense, and Energy",
    "as defined in part 772 of the EAR",
    "a foreign-produced item",
    "is subject to the EAR",
    "if the item is",
    "a direct product",
    "of technology or software",
    "the term",
    "means",
    "any person",
    "acting on behalf of",
    "a headquartered entity",
    "whose ultimate parent",
    "for purposes of this paragraph",
    "nothing in this section",
    "relieves the exporter",
    "of any other obligation",
    "recordkeeping requirements",
    "under part 762",
    "must be retained",
    "for a period of",
    "the license exception",
    "is not available",
    "notwithstanding the provisions of",
    "total processing performance",
    "performance density",
    "of the integrated circuit",
    "a data center",
    "infrastructure as a service",
    "model weights",
    "training of",
    "dual-use foundation models",
    "the applicant must certify",
    "in writing",
    "at the time of the application",
    "the license will be valid",
    "unless revoked",
]
WORDS = sorted({w for p in PHRASES for w in re.findall(r"[a-z]+", p)})
TITLE_WORDS = [
    "Supercomputers",
    "Advanced",
    "Computing",
    "Items",
    "Restrictions",
    "Exports",
    "Certain",
    "End",
    "Uses",
    "Entities",
    "License",
    "Requirements",
    "Foreign",
    "Direct",
    "Product",
    "Rules",
    "Semiconductor",
    "Manufacturing",
    "Equipment",
]
ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii"]


def number(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return f"{rng.randrange(1, 10)}A{rng.randrange(0, 999):03d}"  # an ECCN
    if kind == 1:
        return f"§ 7{rng.randrange(30, 75)}.{rng.randrange(1, 30)}"
    if kind == 2:
        return f"{rng.randrange(1, 12)}/{rng.randrange(1, 28)}/20{rng.randrange(20, 27)}"
    if kind == 3:
        return f"${rng.randrange(1, 999)},{rng.randrange(0, 999):03d}"
    if kind == 4:
        return f"{rng.randrange(2, 365)} days"
    if kind == 5:
        return f"15 CFR {rng.randrange(730, 775)}.{rng.randrange(1, 30)}"
    return f"{rng.randrange(1, 9999)} TPP"


def sentence(rng: random.Random) -> str:
    pieces = [rng.choice(PHRASES) for _ in range(rng.randrange(3, 7))]
    if rng.random() < 0.6:
        pieces.insert(rng.randrange(1, len(pieces) + 1), number(rng))
    text = " ".join(pieces)
    return text[0].upper() + text[1:] + "."


def paragraph_text(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randrange(1, 5)))


def make_document(size: int, seed: int) -> Content:
    """Sections "§ 7xx.yy" of labeled paragraphs (a), (1), (i) until `size` bytes."""
    rng = random.Random(seed)
    blocks: list[Block] = []
    total = 0
    part, sec = 730, 1
    while total < size:
        head = f"§ {part}.{sec}"
        title = " ".join(rng.sample(TITLE_WORDS, rng.randrange(2, 5)))
        blocks.append(Block(f"{head} {title}.", kind="heading", label=head, section=head))
        for a in range(rng.randrange(3, 12)):
            label = f"({chr(ord('a') + a)})"
            text = f"{label} {paragraph_text(rng)}"
            blocks.append(Block(text, label=label, section=head + label))
            if rng.random() < 0.3:
                for n in range(rng.randrange(2, 5)):
                    sub = f"({n + 1})"
                    section = head + label + sub
                    blocks.append(Block(f"{sub} {paragraph_text(rng)}", label=sub, section=section))
                    if rng.random() < 0.2:
                        for r in range(rng.randrange(2, 4)):
                            deep = f"({ROMAN[r]})"
                            text = f"{deep} {paragraph_text(rng)}"
                            blocks.append(Block(text, label=deep, section=section + deep))
        total = sum(len(b.text.encode()) + 1 for b in blocks)
        sec += 1
        if sec > 30:
            part, sec = part + 1, 1
    return Content(f"Part {730}–{part} Export Administration Regulations", tuple(blocks))


def edit_words(rng: random.Random, text: str) -> str:
    """A few word-level edits: substitutions, insertions, deletions, numbers."""
    tokens = text.split(" ")
    for _ in range(rng.randrange(1, 5)):
        k = rng.randrange(1, len(tokens))
        what = rng.randrange(5)
        if what == 0:
            tokens[k] = rng.choice(WORDS)
        elif what == 1:
            tokens.insert(k, rng.choice(["not", "no longer", "only", "also", rng.choice(WORDS)]))
        elif what == 2 and len(tokens) > 3:
            del tokens[k]
        elif what == 3:
            tokens.insert(k, number(rng))
        else:
            tokens[k] = tokens[k].replace("shall", "must").replace("may", "shall") + ","
    return " ".join(tokens)


def rewrite(doc: Content, fraction: float, seed: int) -> Content:
    """A copy with `fraction` of the paragraphs rewritten one way or another."""
    rng = random.Random(seed + 1)
    blocks = list(doc.blocks)
    paragraphs = [k for k, b in enumerate(blocks) if b.kind != "heading"]
    chosen = set(rng.sample(paragraphs, int(len(paragraphs) * fraction)))
    out: list[Block] = []
    moving: list[Block] = []
    for k, block in enumerate(blocks):
        if k not in chosen:
            out.append(block)
            if moving and rng.random() < 0.05:
                out.append(moving.pop())
            continue
        label = block.label + " " if block.label else ""
        body = block.text[len(label) :]
        sentences = re.split(r"(?<=\.) ", body)
        roll = rng.random()
        if roll < 0.55:
            new = Block(label + edit_words(rng, body), block.kind, block.label, block.section)
            out.append(new)
        elif roll < 0.70:
            sentences.insert(rng.randrange(len(sentences) + 1), sentence(rng))
            out.append(replace_text(block, label + " ".join(sentences)))
        elif roll < 0.80:
            if len(sentences) > 1:
                del sentences[rng.randrange(len(sentences))]
            out.append(replace_text(block, label + " ".join(sentences)))
        elif roll < 0.93:
            out.append(replace_text(block, label + paragraph_text(rng)))
        elif roll < 0.96:
            pass  # deleted
        elif roll < 0.98:
            out.append(block)
            out.append(Block("Note: " + paragraph_text(rng), section=block.section))
        else:
            moving.append(block)  # reappears a little later
    out.extend(moving)
    return Content(doc.title.replace("Regulations", "Regulations (revised)"), tuple(out))


def replace_text(block: Block, text: str) -> Block:
    return Block(text, block.kind, block.label, block.section, block.volatile)


# -- measuring ------------------------------------------------------------------


def plain_dmp(old_text: str, new_text: str, timeout: float) -> tuple[list, float]:
    dmp = diff_match_patch()
    dmp.Diff_Timeout = timeout
    start = time.perf_counter()
    diffs = dmp.diff_main(old_text, new_text)
    dmp.diff_cleanupSemantic(diffs)
    return diffs, time.perf_counter() - start


def ours(old: Content, new: Content) -> tuple[Redline, float]:
    start = time.perf_counter()
    redline = diff_contents(old, new)
    return redline, time.perf_counter() - start


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(field)


def measure_memory(which: str, old: Content, new: Content) -> None:
    """Print the peak RSS growth (KB) of one diff; run in a fresh process."""
    old_text, new_text = old.text(), new.text()
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status_kb("VmRSS")
    if which == "ours":
        diff_contents(old, new)
    else:
        plain_dmp(old_text, new_text, 0)
    print(_status_kb("VmHWM") - before)


def peak_mb(which: str, args) -> float:
    """Peak RSS growth in MB while one diff runs, measured in a fresh process.

    tracemalloc would slow the pure-Python diffs 10-20x, so this resets the
    kernel's high-water mark and reads VmHWM instead. Linux only; NaN elsewhere.
    """
    if not Path("/proc/self/clear_refs").exists():
        return float("nan")
    command = [
        sys.executable,
        __file__,
        "--measure-memory",
        which,
        "--size",
        str(args.size),
        "--rewrite",
        str(args.rewrite),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    try:
        return int(done.stdout.split()[-1]) / 1024
    except (IndexError, ValueError):
        return float("nan")


def as_dmp_diffs(redline: Redline) -> list[tuple[int, str]]:
    codes = {"equal": 0, "insert": 1, "delete": -1}
    return [(codes[op.op], op.text) for op in redline_ops(redline)]


def check_reconstruction(old: Content, new: Content, redline: Redline) -> bool:
    diffs = as_dmp_diffs(redline)
    old_text = "".join(text for kind, text in diffs if kind <= 0)
    new_text = "".join(text for kind, text in diffs if kind >= 0)
    return old_text == old.text() and new_text == new.text()


# -- small-edit quality -----------------------------------------------------------

_TOKEN = re.compile(r"\w+(?:[.,:/-]\w+)*|\s+|[^\w\s]")
_WORD_TOKEN = re.compile(r"\w+(?:[.,:/-]\w+)*")


def dmp_word_diff(old_text: str, new_text: str) -> list[tuple[int, str]]:
    """Plain dmp over the whole text, one character per distinct token."""
    codes: dict[str, str] = {}
    tokens: dict[str, str] = {}

    def encode(text: str) -> str:
        out = []
        for token in _TOKEN.findall(text):
            if token not in codes:
                codes[token] = chr(0x100 + len(codes) + (0x800 if len(codes) >= 0xD700 else 0))
                tokens[codes[token]] = token
            out.append(codes[token])
        return "".join(out)

    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0
    diffs = dmp.diff_main(encode(old_text), encode(new_text), False)
    diffs = [(kind, "".join(tokens[c] for c in chars)) for kind, chars in diffs]
    dmp.diff_cleanupSemantic(diffs)
    return diffs


def changed_words(diffs, old_text: str, new_text: str) -> tuple[set, set]:
    """(old words touched by deletions, new words touched by insertions) as spans."""
    deleted, inserted = [], []
    old_pos = new_pos = 0
    for kind, text in diffs:
        if kind == 0:
            old_pos += len(text)
            new_pos += len(text)
        elif kind < 0:
            deleted.append((old_pos, old_pos + len(text)))
            old_pos += len(text)
        else:
            inserted.append((new_pos, new_pos + len(text)))
            new_pos += len(text)

    def touched(text: str, spans) -> set:
        words = set()
        for start, end in spans:
            lo, hi = max(0, start - 60), min(len(text), end + 60)
            for m in _WORD_TOKEN.finditer(text, lo, hi):
                if m.start() < end and m.end() > start:
                    words.add((m.start(), m.group()))
        return words

    return touched(old_text, deleted), touched(new_text, inserted)


SMALL_EDITS = [
    ("negation", lambda t: t.replace(" is required", " is not required", 1)),
    ("modal", lambda t: t.replace(" may ", " must ", 1)),
    ("word deleted", lambda t: t.replace(" individually", "", 1)),
    ("word replaced", lambda t: t.replace("exporter", "applicant", 1)),
    ("number", lambda t: re.sub(r"\d+ days", "180 days", t, count=1)),
    ("sentence added", lambda t: t + " The license will be valid for 2 years."),
    ("punctuation", lambda t: t.replace(",", ";", 1)),
    ("phrase replaced", lambda t: t.replace("case-by-case basis", "presumption of approval", 1)),
]


def quality(doc: Content, seed: int) -> list[tuple[str, bool, bool]]:
    """For each small edit: (name, same words as dmp word diff, same as dmp char diff)."""
    rng = random.Random(seed + 2)
    results = []
    for name, edit in SMALL_EDITS:
        for _ in range(200):
            k = rng.randrange(len(doc.blocks))
            block = doc.blocks[k]
            changed = edit(block.text)
            if changed != block.text:
                break
        else:
            raise SystemExit(f"could not apply the small edit {name!r}")
        blocks = list(doc.blocks)
        blocks[k] = replace_text(block, changed)
        new = Content(doc.title, tuple(blocks))
        old_text, new_text = doc.text(), new.text()
        ours_words = changed_words(as_dmp_diffs(diff_contents(doc, new)), old_text, new_text)
        word_ref = changed_words(dmp_word_diff(old_text, new_text), old_text, new_text)
        char_ref = changed_words(plain_dmp(old_text, new_text, 0)[0], old_text, new_text)
        results.append((name, ours_words == word_ref, ours_words == char_ref))
    return results


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({os.cpu_count()} CPUs)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_100_000, help="document size in bytes")
    parser.add_argument("--rewrite", type=float, default=0.30, help="fraction of paragraphs rewritten")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs of diff_contents (median kept)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--measure-memory", choices=["ours", "dmp"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    old = make_document(args.size, args.seed)
    new = rewrite(old, args.rewrite, args.seed)
    if args.measure_memory:
        measure_memory(args.measure_memory, old, new)
        return 0
    old_text, new_text = old.text(), new.text()
    print(
        f"document: {len(old_text.encode()):,} bytes, {len(old.blocks):,} blocks; "
        f"rewritten: {len(new_text.encode()):,} bytes, {len(new.blocks):,} blocks "
        f"({args.rewrite:.0%} of paragraphs)"
    )

    exact, exact_time = plain_dmp(old_text, new_text, 0)
    print(f"plain dmp, Diff_Timeout=0:   {exact_time:8.3f} s")
    default, default_time = plain_dmp(old_text, new_text, diff_match_patch().Diff_Timeout)
    print(f"plain dmp, default timeout: {default_time:8.3f} s")

    times = []
    for _ in range(args.repeat):
        redline, elapsed = ours(old, new)
        times.append(elapsed)
    ours_time = statistics.median(times)
    print(
        f"diff_contents (median of {args.repeat}): {ours_time:8.3f} s  (runs: "
        + ", ".join(f"{t:.3f}" for t in times)
        + ")"
    )
    speedup = exact_time / ours_time

    lev = diff_match_patch().diff_levenshtein
    kinds: dict[str, int] = {}
    for hunk in redline.hunks:
        kinds[hunk.kind] = kinds.get(hunk.kind, 0) + 1
    print("hunks: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print(
        f"edit size (dmp Levenshtein, chars): exact dmp {lev(exact):,}, default-timeout dmp "
        f"{lev(default):,}, diff_contents {lev(as_dmp_diffs(redline)):,}"
    )
    rebuilt = check_reconstruction(old, new, redline)
    print(f"ops rebuild both texts: {rebuilt}")

    if args.skip_memory:
        ours_peak = dmp_peak = float("nan")
    else:
        ours_peak = peak_mb("ours", args)
        dmp_peak = peak_mb("dmp", args)
        print(f"peak RSS growth: diff_contents {ours_peak:.1f} MB, plain dmp {dmp_peak:.1f} MB")
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS: {max_rss:.0f} MB")

    checks = quality(old, args.seed)
    print("small edits, changed words equal to dmp word diff / dmp char diff:")
    for name, same_word, same_char in checks:
        print(f"  {name:16} {'yes' if same_word else 'NO':4} / {'yes' if same_char else 'no'}")
    quality_ok = rebuilt and all(same_word for _, same_word, _ in checks)

    cpu = machine()
    py = platform.python_version()
    print(
        f"\nmachine: {cpu}; Python {py} ({platform.python_implementation()}); "
        f"diff-match-patch {dmp_module.__version__}\n"
    )
    print(
        "| size | rewritten | plain dmp (timeout 0) | plain dmp (default 1 s) | diff_contents "
        "| speedup | peak MB (ours / dmp) | small edits | CPU | Python |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    same = sum(same_word for _, same_word, _ in checks)
    print(
        f"| {len(old_text.encode()) / 1e6:.2f} MB | {args.rewrite:.0%} | {exact_time:.2f} s "
        f"| {default_time:.2f} s | {ours_time:.3f} s | {speedup:.1f}x "
        f"| {ours_peak:.1f} / {dmp_peak:.1f} | {same}/{len(checks)} | {cpu} | {py} |"
    )

    if speedup < MIN_SPEEDUP:
        print(f"\nFAIL: speedup {speedup:.1f}x is under {MIN_SPEEDUP:.0f}x", file=sys.stderr)
        return 1
    if not quality_ok:
        print("\nFAIL: redline quality check", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
