"""Benchmark: the command line as a user meets it, whole processes side by side.

    python benchmarks/bench_cli.py [--runs 5] [--size 1100000]

Builds a SQLite database (in a temporary folder) through the real ingest path: a
~1.1 MB regulation-like page and a copy with 30% of its paragraphs rewritten
(the text generator of bench_diff.py), and small pages until there are 100 events.
Then, as processes, medians of `--runs` runs each:

- `python -c pass`, the floor;
- `rulewatch --help` and `rulewatch changes` (100 events): goal ≤ 8x the floor;
- `rulewatch diff DOC --format json` on the large page: goal ≥ 20x faster than plain
  diff-match-patch (`diff_main` + `diff_cleanupSemantic`, no timeout) run as a process
  on the same two texts;
- the web diff page of it (`/documents/{id}/diff`, in process) after its first view:
  goal under 1 s, also shown as a ratio to the dmp process.

Ingest keeps each change's redline (storage.redline_cache), so the views read it back.

Prints one README row; exits 1 when a goal is not met.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_diff import make_document, rewrite
from benchmarks.bench_storage import render
from benchmarks.common import html_page, machine, met

STARTUP_GOAL = 8.0  # x python -c pass
DIFF_GOAL = 20.0  # x faster than plain diff-match-patch
PAGE_GOAL = 1.0  # seconds, the web diff page after its first view
EVENTS = 100
BIG_URL = "https://www.ecfr.gov/current/title-15/part-744"

DMP_SCRIPT = """
import sys
from diff_match_patch import diff_match_patch
old = open(sys.argv[1], encoding="utf-8").read()
new = open(sys.argv[2], encoding="utf-8").read()
dmp = diff_match_patch()
dmp.Diff_Timeout = 0
diffs = dmp.diff_main(old, new)
dmp.diff_cleanupSemantic(diffs)
"""


def build(work: Path, size: int) -> tuple[Path, int]:
    """The config of a database holding the large page's two versions and 100 events; its document id."""
    from storage.db import open_database, session_scope, utcnow
    from storage.repository import find_document
    from tracker.ingest import Ingestor
    from tracker.items import Snapshot
    from tracker.kinds.page.config import PageConfig

    database = work / "rulewatch.db"
    config = work / "rulewatch.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n\n[[sources]]\nname = "bench"\nkind = "page"\nurl = "{BIG_URL}"\n',
        encoding="utf-8",
    )
    engine = open_database(f"sqlite:///{database}")
    source = PageConfig(name="bench", kind="page", interval=3600, url=BIG_URL)
    doc = make_document(size, seed=7)
    revised = rewrite(doc, 0.30, seed=7)
    (work / "old.txt").write_text(doc.text(), encoding="utf-8")
    (work / "new.txt").write_text(revised.text(), encoding="utf-8")
    bodies = [(BIG_URL, render(c.title, [(b.kind, b.text) for b in c.blocks])) for c in (doc, revised)]
    small = (EVENTS - 2) // 2
    for n in range(small):
        url = f"https://www.bis.gov/notice/{n}"
        bodies += [(url, html_page(n, 4000, revision=0)), (url, html_page(n, 4000, revision=1))]
    for url, body in sorted(bodies, key=lambda pair: pair[0] != BIG_URL):
        ingestor = Ingestor(engine, source, progress=lambda line: None)
        ingestor.ingest_snapshot(
            Snapshot(
                source="bench",
                key=url,
                url=url,
                final_url=url,
                status=200,
                headers={"Content-Type": "text/html; charset=utf-8"},
                body=body,
                fetched_at=utcnow(),
            )
        )
        ingestor.finish()
    with session_scope(engine) as session:
        document = find_document(session, BIG_URL)
        document_id = document.id
    engine.dispose()
    return config, document_id


def web_page_seconds(config: Path, document_id: int, runs: int) -> float:
    """Median time of the web diff page in process, after a first view."""
    from fastapi.testclient import TestClient

    from storage.db import open_database
    from tracker.config import load_config
    from tracker.web.app import create_app

    settings = load_config(config)
    engine = open_database(settings.database_url)
    client = TestClient(create_app(settings, engine))
    client.get(f"/documents/{document_id}/diff").raise_for_status()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(f"/documents/{document_id}/diff").raise_for_status()
        times.append(time.perf_counter() - start)
    engine.dispose()
    return statistics.median(times)


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=1_100_000, help="approximate text bytes of the large page")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="rulewatch-bench-cli-"))
    print(f"building the database in {work} …", file=sys.stderr)
    config, document_id = build(work, args.size)
    rulewatch = [sys.executable, "-m", "tracker.cli", "--config", str(config)]

    floor = median_seconds([sys.executable, "-c", "pass"], args.runs)
    help_time = median_seconds([*rulewatch, "--help"], args.runs)
    changes = median_seconds([*rulewatch, "changes", "--limit", str(EVENTS)], args.runs)
    diff = median_seconds([*rulewatch, "diff", str(document_id), "--format", "json"], args.runs)
    dmp = median_seconds([sys.executable, "-c", DMP_SCRIPT, str(work / "old.txt"), str(work / "new.txt")], args.runs)

    page = web_page_seconds(config, document_id, args.runs)

    help_ratio, changes_ratio, diff_ratio = help_time / floor, changes / floor, dmp / diff
    ok = help_ratio <= STARTUP_GOAL and changes_ratio <= STARTUP_GOAL and diff_ratio >= DIFF_GOAL and page < PAGE_GOAL
    print(
        f"| CLI: `--help` and `changes` (100 events) ≤ {STARTUP_GOAL:g}x `python -c pass`; `diff --format json` "
        f"≥ {DIFF_GOAL:g}x plain dmp | `python benchmarks/bench_cli.py` | "
        f"{met(help_ratio <= STARTUP_GOAL)} `--help` {help_ratio:.1f}x ({help_time:.2f} s), "
        f"{met(changes_ratio <= STARTUP_GOAL)} `changes` {changes_ratio:.1f}x ({changes:.2f} s) of {floor * 1000:.0f} ms; "
        f"{met(diff_ratio >= DIFF_GOAL)} `diff` {diff_ratio:.1f}x ({diff:.2f} s vs dmp {dmp:.2f} s); "
        f"{met(page < PAGE_GOAL)} web diff page {page:.2f} s after its first view ({dmp / page:.0f}x dmp) | {machine()} |"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
