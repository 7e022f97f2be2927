"""Benchmark: database size after many versions of a large document with small edits.

    python benchmarks/bench_storage.py [--versions 200] [--size 1000000] [--seed 7]

Builds a ~1 MB regulation-like HTML page (seeded; the text generator of
bench_diff.py), then `--versions` versions of it, each with a few word-level
edits in 1-3 paragraphs on top of the previous one. Each version goes through
tracker.ingest.Ingestor as a tracker.items.Snapshot (no network), into a fresh
SQLite database. After VACUUM, the file size is compared with the size of that
many uncompressed copies of the page. Goal: under 10%. Exits 1 when not met.

It also estimates what storing each version as a delta against the previous one
would cost (LZMA of previous+current minus LZMA of previous, on a few sampled
pairs) to size the fix; nothing in Rulewatch is changed by this.
"""

from __future__ import annotations

import argparse
import html
import lzma
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_diff import edit_words, make_document
from benchmarks.common import machine, met
from tracker.kinds.page.config import PageConfig

GOAL = 0.10
URL = "https://www.ecfr.gov/current/title-15/part-744"


def render(title: str, blocks: list[tuple[str, str]]) -> bytes:
    """(kind, text) blocks as an HTML page with some page furniture around <main>."""
    out = [
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>",
        "<nav><a href='/'>Home</a> <a href='/search'>Search</a></nav><main>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for kind, text in blocks:
        tag = "h2" if kind == "heading" else "p"
        out.append(f"<{tag}>{html.escape(text)}</{tag}>\n")
    out.append("</main><footer>eCFR</footer></body></html>")
    return "".join(out).encode()


def versions(count: int, size: int, seed: int):
    """Yield `count` page bodies; each one a few word edits after the previous."""
    doc = make_document(size, seed)
    blocks = [(b.kind, b.text) for b in doc.blocks]
    rng = random.Random(seed + 100)
    paragraphs = [k for k, (kind, _) in enumerate(blocks) if kind != "heading"]
    yield render(doc.title, blocks)
    for _ in range(count - 1):
        for k in rng.sample(paragraphs, rng.randrange(1, 4)):
            blocks[k] = (blocks[k][0], edit_words(rng, blocks[k][1]))
        yield render(doc.title, blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--size", type=int, default=1_000_000, help="approximate text bytes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deadline", type=float, default=1800, help="stop ingesting after this many seconds")
    args = parser.parse_args(argv)

    from storage.db import open_database, utcnow
    from tracker.ingest import Ingestor
    from tracker.items import Snapshot

    work = Path(tempfile.mkdtemp(prefix="rulewatch-bench-storage-"))
    db_path = work / "rulewatch.db"
    engine = open_database(f"sqlite:///{db_path}")
    source = PageConfig(name="ear-744", kind="page", interval=3600, url=URL)
    raw_total, changed, count = 0, 0, 0
    samples: list[tuple[bytes, bytes]] = []
    previous = b""
    start = time.perf_counter()
    for body in versions(args.versions, args.size, args.seed):
        if time.perf_counter() - start > args.deadline:
            print(f"deadline reached after {count} versions", file=sys.stderr)
            break
        ingestor = Ingestor(engine, source, progress=lambda line: None)
        snapshot = Snapshot(
            source=source.name,
            key=URL,
            url=URL,
            final_url=URL,
            status=200,
            headers={"Content-Type": "text/html; charset=utf-8"},
            body=body,
            fetched_at=utcnow(),
        )
        event = ingestor.ingest_snapshot(snapshot)
        ingestor.finish()
        changed += event is not None
        raw_total += len(body)
        count += 1
        if count == 2 or count % 50 == 0:
            samples.append((previous, body))
        previous = body
        if count % 20 == 0:
            print(f"  {count} versions ingested, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    ingest_time = time.perf_counter() - start
    engine.dispose()

    with sqlite3.connect(db_path) as db:
        db.execute("VACUUM")
        blob_stored = db.execute("SELECT coalesce(sum(length(data)), 0) FROM blob").fetchone()[0]
        raw_stored = db.execute(
            "SELECT coalesce(sum(length(b.data)), 0) FROM blob b WHERE b.sha256 IN (SELECT sha256 FROM version)"
        ).fetchone()[0]
        json_stored = db.execute(
            "SELECT coalesce(sum(length(b.data)), 0), coalesce(sum(b.size), 0) "
            "FROM blob b WHERE b.sha256 IN (SELECT content_sha256 FROM version)"
        ).fetchone()
        stored_versions = db.execute("SELECT count(*) FROM version").fetchone()[0]
    db_size = db_path.stat().st_size
    ratio = db_size / raw_total

    deltas = [len(lzma.compress(a + b)) - len(lzma.compress(a)) for a, b in samples[:4] if a]
    delta = sum(deltas) / len(deltas) if deltas else float("nan")
    page = raw_total / count
    first_copy = (raw_stored + json_stored[0]) / max(1, stored_versions)
    print(
        f"\npage: {page / 1e6:.2f} MB; {count} versions ingested in {ingest_time:.0f} s, "
        f"{stored_versions} stored, {changed} events"
    )
    print(
        f"database after VACUUM: {db_size / 1e6:.1f} MB; {count} uncompressed copies: "
        f"{raw_total / 1e6:.1f} MB; ratio {ratio:.1%} (goal < {GOAL:.0%})"
    )
    print(
        f"  blobs {blob_stored / 1e6:.1f} MB: raw bodies (zlib) {raw_stored / 1e6:.1f} MB "
        f"({raw_stored / max(1, stored_versions) / 1e3:.0f} KB each), normalized JSON (zlib) "
        f"{json_stored[0] / 1e6:.1f} MB ({json_stored[1] / max(1, stored_versions) / 1e6:.2f} MB each uncompressed)"
    )
    print(
        f"  estimated delta vs previous version (LZMA, {len(deltas)} sampled pairs): {delta / 1e3:.1f} KB "
        f"per version for the raw body"
    )
    if ratio >= GOAL:
        print(
            f"  short of the goal by {ratio / GOAL:.1f}x: each version keeps a full zlib copy of the raw "
            "body and of the normalized JSON. Storing both as deltas against the previous version "
            "(with a full copy every k versions), or zstd with the previous version as dictionary, "
            f"would bring {count} versions to about "
            f"{(first_copy + 2 * (count - 1) * delta) / raw_total:.1%} by this estimate (one full "
            "zlib copy of each, then deltas; the JSON delta taken as the size of the raw one)."
        )
    print(f"machine: {machine()}\n")
    print("| versions | page | DB after VACUUM | uncompressed copies | ratio | goal < 10% | machine |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {count} | {page / 1e6:.2f} MB | {db_size / 1e6:.1f} MB | {raw_total / 1e6:.1f} MB "
        f"| {ratio:.1%} | {met(ratio < GOAL)} | {machine()} |"
    )
    db_path.unlink()
    return 0 if ratio < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
