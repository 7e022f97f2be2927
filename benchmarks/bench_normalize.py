"""Benchmark: normalizing 1 MB of pathological HTML, against parsing it alone.

    python benchmarks/bench_normalize.py [--size BYTES] [--repeat N]

Each case is about `--size` bytes of hostile HTML: nesting far past the depth cap,
nesting just under it (repeated, a boilerplate class on every level), 100,000
sibling elements, one huge attribute value, 100,000 attributes on one element, and
elements with as many attributes as the cap allows.
Each is timed through tracker.reading.html.normalize_html (a refusal, for a page past
the caps, is its answer) and, as its peer in the same run, through
BeautifulSoup(html, "lxml") alone: the tree normalize_html itself builds before its
own work. Best of `--repeat` runs each. Goal: every case under 2 s. Exits 1 when not met.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup

from benchmarks.common import machine, met
from tracker.reading.errors import UnreadableDocument
from tracker.reading.html import MAX_ATTRIBUTES, MAX_DEPTH, normalize_html

GOAL_SECONDS = 2.0


def cases(size: int) -> dict[str, str]:
    """Name -> a page of about `size` characters (all ASCII, so as many bytes)."""
    # Every level a boilerplate candidate whose text (too long to be boilerplate) is measured.
    levels = MAX_DEPTH - 12
    nested = "<div class='share-tools'>" * levels + "words " * 200 + "</div>" * levels
    sibling = "<p>one</p>"
    crowded = "<p " + " ".join(f"a{i:04d}=x" for i in range(MAX_ATTRIBUTES)) + ">text</p>"
    return {
        "deep nesting past the cap (unclosed <div>s)": "<html><body>" + "<div>" * (size // 5),
        f"deep nesting under the cap ({MAX_DEPTH - 12} levels, repeated)": "<html><body>"
        + nested * (size // len(nested)),
        f"{size // len(sibling):,} sibling elements": "<html><body>" + sibling * (size // len(sibling)),
        "one huge attribute value": '<html><body><p class="' + "a" * size + '">text</p><a href="/x">link</a>',
        f"{size // 10:,} attributes on one element": "<html><body><p "
        + " ".join(f"a{i:06d}=x" for i in range(size // 10))
        + ">text</p>",
        f"{MAX_ATTRIBUTES:,} attributes (the cap) on each of {size // len(crowded)} elements": "<html><body>"
        + crowded * (size // len(crowded)),
    }


def best_of(repeat: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def normalized(html: str) -> str:
    try:
        content = normalize_html(html, base_url="https://www.bis.gov/")
    except UnreadableDocument as exc:
        return f"refused: {exc}"
    return f"{len(content.blocks):,} blocks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    ok = True
    rows = []
    for name, html in cases(args.size).items():
        ours, outcome = best_of(args.repeat, lambda html=html: normalized(html))
        peer, _ = best_of(args.repeat, lambda html=html: BeautifulSoup(html, "lxml"))
        ok &= ours < GOAL_SECONDS
        print(
            f"{name} ({len(html):,} bytes): normalize_html {ours:.2f} s ({outcome}); "
            f"BeautifulSoup(lxml) alone {peer:.2f} s; ratio {ours / peer:.2f}x; "
            f"{met(ours < GOAL_SECONDS)}",
            flush=True,
        )
        rows.append(f"{name}: {ours:.2f} s ({ours / peer:.2f}x of parsing alone)")
    print(f"machine: {machine()}")
    print(f"goal: every case under {GOAL_SECONDS:g} s: {met(ok)}; " + "; ".join(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
