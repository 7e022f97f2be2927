"""Benchmark: search latency over 10,000 stored versions of 20 KB, against a plain LIKE scan.

    python benchmarks/bench_search.py [--documents 500] [--versions 20] [--size 20000] [--runs 7]
                                      [--postgres URL | --no-postgres]

Builds, on SQLite and on PostgreSQL, `--documents` regulation-like documents (seeded: the
text generator of bench_diff.py, plus each document's own entity names) of `--versions`
versions each, every version a few word edits after the previous one; one document in
twenty carries the Huawei Ascend sentence from its version 5 to 12. Versions are written
as ingest writes them (content blob as a delta, version row, search index), and beside
them, as the peer, a plain table of each version's readable text.

Each query is timed `--runs` times after one warm-up run, each in its own transaction
as a command or a request would be: tracker.search.search (the index, then the text of
the candidates a phrase needs, stretches of versions, snippets) against the peer's
`LIKE '%term%'` for every term (ILIKE on PostgreSQL) that only lists matching version ids.
Goal: every query's median under 200 ms. Exits 1 when not met. The CPU time of this process
is printed beside it (on SQLite, all of the work; PostgreSQL's own is not in it): on a shared
machine the wall time also counts the waits for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_diff import edit_words, make_document
from benchmarks.common import machine, met

GOAL = 0.200  # seconds
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HUAWEI = "BIS issued guidance that using Huawei Ascend chips anywhere in the world violates U.S. export controls."
QUERIES = [
    ("a rare word", "Ascend"),
    ("a rare phrase", '"Huawei Ascend chips anywhere in the world"'),
    ("an entity name and a common word", "{entity} license"),
    ("two common words", "supercomputer presumption"),
    ("a common phrase", '"presumption of denial"'),
    ("a section number", "744.5"),
]
SYLLABLES = ["zhen", "hua", "tek", "lon", "gar", "vex", "mira", "dyn", "quor", "sel", "tan", "rho", "kai", "bel"]


def entity(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()


def contents(document: int, versions: int, size: int):
    """The document's versions as stored content (Content.to_json shapes), each a few edits after the last."""
    rng = random.Random(document * 7919 + 3)
    doc = make_document(size, seed=1000 + document)
    blocks = [{"text": block.text, "kind": block.kind} for block in doc.blocks]
    names = ", ".join(entity(rng) for _ in range(12))
    blocks.insert(1, {"text": f"Entities added to the list in this part: {names}.", "kind": "paragraph"})
    paragraphs = [k for k, block in enumerate(blocks) if block["kind"] == "paragraph"]
    huawei = document % 20 == 0
    for number in range(1, versions + 1):
        if number > 1:
            for k in rng.sample(paragraphs, rng.randrange(1, 4)):
                blocks[k] = {**blocks[k], "text": edit_words(rng, blocks[k]["text"])}
        shown = list(blocks)
        if huawei and 5 <= number <= 12:
            shown.insert(3, {"text": HUAWEI, "kind": "paragraph"})
        yield {"title": f"{doc.title} (document {document})", "blocks": shown, "links": []}


def build(url: str, documents: int, versions: int, size: int) -> tuple[object, dict[str, str]]:
    """The database at `url`, filled; and one entity name of a document, for the queries."""
    from sqlalchemy import text

    from storage.blobs import put_blob
    from storage.db import open_database, session_scope, utcnow
    from storage.models import Document, Version
    from storage.repository import ensure_source
    from storage.search import index_version, readable_text

    engine = open_database(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE peer_text (version_id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    started = time.perf_counter()
    first_names = ""
    for n in range(documents):
        with session_scope(engine) as session:
            source = ensure_source(session, "ear" if n % 2 else "fr", "page")
            now = utcnow()
            key = f"https://www.ecfr.gov/part-{n}"
            document = Document(source_id=source.id, key=key, url=key, title=key, first_seen_at=now, last_seen_at=now)
            session.add(document)
            session.flush()
            previous = None
            for number, stored in enumerate(contents(n, versions, size), 1):
                sha = put_blob(session, json.dumps(stored, sort_keys=True).encode(), base=previous)
                version = Version(
                    document_id=document.id,
                    number=number,
                    fetched_at=now,
                    url=key,
                    final_url=key,
                    status=200,
                    headers={},
                    sha256=sha,
                    content_hash=sha,
                    content_sha256=sha,
                )
                session.add(version)
                session.flush()
                index_version(session, version.id, stored)
                session.connection().execute(
                    text("INSERT INTO peer_text (version_id, body) VALUES (:id, :body)"),
                    {"id": version.id, "body": readable_text(stored)},
                )
                previous = sha
                document.latest_version = number
                if n == 1 and number == 1:
                    first_names = stored["blocks"][1]["text"]
        if (n + 1) % 50 == 0:
            print(f"  {(n + 1) * versions} versions stored, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    name = first_names.split(": ")[1].split(", ")[4]
    return engine, {"entity": name}


def timed(runs: int, call) -> tuple[float, float, object]:
    """Median wall seconds, median CPU seconds of this process, and the last result."""
    call()  # warm-up: the pages in the cache, the statements prepared
    times, cpu, result = [], [], None
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return statistics.median(times), statistics.median(cpu), result


def measure(engine, names: dict[str, str], runs: int) -> list[dict]:
    from sqlalchemy import text

    from storage.db import session_scope
    from tracker.search import parse_query, search

    like = "ILIKE" if engine.dialect.name == "postgresql" else "LIKE"
    rows = []
    for label, template in QUERIES:
        query = template.format(**names)

        def ours(query=query):
            with session_scope(engine) as session:
                return search(session, query)

        def peer(query=query):
            terms = [term.text.replace("%", "").replace("_", "") for term in parse_query(query)]
            where = " AND ".join(f"body {like} :t{n}" for n in range(len(terms)))
            with engine.connect() as connection:
                found = connection.execute(
                    text(f"SELECT version_id FROM peer_text WHERE {where}"),
                    {f"t{n}": f"%{term}%" for n, term in enumerate(terms)},
                )
                return [row[0] for row in found]

        print(f"  {label}: load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
        ours_time, ours_cpu, hits = timed(runs, ours)
        peer_time, _, peer_found = timed(runs, peer)
        covered = sum(hit.last_version - hit.first_version + 1 for hit in hits)
        rows.append(
            {
                "label": label,
                "query": query,
                "ours": ours_time,
                "ours_cpu": ours_cpu,
                "peer": peer_time,
                "hits": len(hits),
                "versions": covered,
                "peer_versions": len(peer_found),
            }
        )
        print(
            f"  {label:34} {query:45} Rulewatch {ours_time * 1000:7.1f} ms, CPU {ours_cpu * 1000:5.1f} ms"
            f" ({len(hits)} hits, {covered} versions)"
            f"  LIKE {peer_time * 1000:7.1f} ms ({len(peer_found)} versions)  {peer_time / ours_time:5.1f}x",
            file=sys.stderr,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--size", type=int, default=20_000, help="approximate text bytes of a version")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default=PG_URL, help="a PostgreSQL database to make a scratch schema in")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    import tempfile

    from sqlalchemy import create_engine, text

    targets = [("SQLite", f"sqlite:///{Path(tempfile.mkdtemp(prefix='rulewatch-bench-search-')) / 'search.db'}")]
    schema = f"bench_search_{uuid.uuid4().hex[:8]}"
    admin = None
    if not args.no_postgres:
        admin = create_engine(args.postgres)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        targets.append(("PostgreSQL", f"{args.postgres}?options=-csearch_path%3D{schema}"))
    results = {}
    try:
        for name, url in targets:
            print(
                f"{name}: {args.documents} documents x {args.versions} versions of ~{args.size} bytes", file=sys.stderr
            )
            started = time.perf_counter()
            engine, names = build(url, args.documents, args.versions, args.size)
            print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            results[name] = measure(engine, names, args.runs)
            engine.dispose()
    finally:
        if admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    total = args.documents * args.versions
    worst = max(row["ours"] for rows in results.values() for row in rows)
    print(f"\nmachine: {machine()}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"{total} versions of ~{args.size // 1000} KB; median of {args.runs} runs after a warm-up\n")
    print("| database | query | Rulewatch | its CPU | hits (versions) | LIKE scan | versions | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        for row in rows:
            print(
                f"| {name} | {row['label']}: `{row['query']}` | {row['ours'] * 1000:.1f} ms "
                f"| {row['ours_cpu'] * 1000:.1f} ms | {row['hits']} ({row['versions']}) | {row['peer'] * 1000:.1f} ms | {row['peer_versions']} "
                f"| {row['peer'] / row['ours']:.1f}x |"
            )
    ratios = [row["peer"] / row["ours"] for rows in results.values() for row in rows]
    print(
        f"\n| search {total:,} versions of 20 KB, median < 200 ms a query (SQLite, PostgreSQL) "
        f"| `python benchmarks/bench_search.py` | {met(worst < GOAL)}: worst {worst * 1000:.0f} ms; "
        f"{min(ratios):.1f}–{max(ratios):.1f}x a LIKE scan | {machine()} |"
    )
    return 0 if worst < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
