"""Benchmark: resident memory of `rulewatch run` over many poll cycles.

    python benchmarks/bench_memory.py [--polls 300] [--minutes 10] [--change-every 10] [--samples FILE.csv]
                                      [--fresh-database]

Starts `rulewatch run` (python -m tracker.cli --config … run) with one `page` source
at interval "1s" on a loopback FixtureServer, a free [web] port, a subscriber and
an aiosmtpd sink on 127.0.0.1. The database is made beforehand by `rulewatch documents`
(as after installation, or a service restarted on its database); with `--fresh-database`
the service makes it itself, and then also holds Alembic's migration code (~11 MB) for
its whole life. The page changes every `--change-every` cycles, so
the ingest, diff and mail paths run too. Every 0.2 s, until `--polls` polls have
been served or `--minutes` have passed, whichever comes first, it samples the
service process (the parent) and the whole process tree below it (the crawl
children are short-lived): VmRSS of each (/proc/<pid>/status) and the tree's PSS
(/proc/<pid>/smaps_rollup), which counts a page shared by several processes once.
The tree's RSS sum counts shared pages twice: when a crawl child forks to run
`uname -p` (Scrapy's start-up log of platform.platform()) the copy shows the
child's whole RSS for a moment, so that sum can spike by ~100 MB that no process
uses. Reports the parent's RSS after the first cycle (start), its max and its
end; the largest crawl child's RSS per poll; the tree's max PSS and max RSS sum;
and the trends: least-squares slopes against the poll count, in MB per 1,000
polls. `--samples` writes every sample to a CSV; a progress line is printed
every 50 polls.
Goal (issue 12): the whole tree at most 150 MB PSS, and flat (the last tenth of the
parent's samples and of the children's peaks within 10% + 10 MB of the first tenth).
Exits 1 when not met.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import csv
import subprocess

from benchmarks.common import html_page, machine, met, status_kb
from benchmarks.service import (
    SmtpRecorder,
    free_port,
    start_service,
    stop_service,
    timed_server,
    wait_until,
    workdir,
    write_config,
)

LIMIT_MB = 150
PAGE = "/rule"


def descendants(pid: int) -> list[int]:
    """The pids below `pid` (from /proc/*/stat parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pss_kb(pid: int) -> int | None:
    """Proportional set size in KB (shared pages divided among their sharers), or None once gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y against x (0.0 with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", "--cycles", dest="cycles", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--change-every", type=int, default=10, help="change the page every N polls")
    parser.add_argument("--page-bytes", type=int, default=12_000)
    parser.add_argument("--samples", type=Path, help="write every sample to this CSV")
    parser.add_argument("--fresh-database", action="store_true", help="let the service create its database")
    args = parser.parse_args(argv)

    server = timed_server()
    revision = 0
    server.set(PAGE, html_page(1, args.page_bytes, revision=revision), etag='"r0"')
    smtp = SmtpRecorder().start()
    work = workdir("rulewatch-bench-memory-")
    config = write_config(work, server.url(PAGE), smtp.port, free_port(), interval="1s")
    if not args.fresh_database:
        made = subprocess.run(
            [sys.executable, "-m", "tracker.cli", "--config", str(config), "documents"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise SystemExit(f"could not make the database: {made.stderr}")
    service = start_service(config, work / "service.log")
    # (seconds, polls so far, parent RSS, tree RSS sum, largest child RSS, tree PSS), in KB
    samples: list[tuple[float, int, int, int, int, int]] = []
    try:
        if not wait_until(lambda: len(server.hits_for(PAGE)) >= 1, timeout=60):
            raise SystemExit("the service never polled; see " + str(work / "service.log"))
        wait_until(lambda: len(server.hits_for(PAGE)) >= 2, timeout=30)
        first = len(server.hits_for(PAGE))
        start = time.monotonic()
        next_change = first + args.change_every
        while len(server.hits_for(PAGE)) - first < args.cycles and time.monotonic() - start < args.minutes * 60:
            if service.poll() is not None:
                raise SystemExit(f"the service exited ({service.returncode}); see {work / 'service.log'}")
            parent = status_kb(service.pid)
            if parent is None:
                break
            below = descendants(service.pid)
            rss = [status_kb(pid) or 0 for pid in below]
            tree = parent + sum(rss)
            tree_pss = (pss_kb(service.pid) or 0) + sum(pss_kb(pid) or 0 for pid in below)
            polls = len(server.hits_for(PAGE)) - first
            samples.append((time.monotonic() - start, polls, parent, tree, max(rss, default=0), tree_pss))
            if len(samples) > 1 and polls // 50 > samples[-2][1] // 50:
                print(
                    f"{polls} polls, {samples[-1][0]:.0f} s: parent {parent / 1024:.1f} MB, "
                    f"tree {tree / 1024:.1f} MB (PSS {tree_pss / 1024:.1f} MB)",
                    flush=True,
                )
            if len(server.hits_for(PAGE)) >= next_change:
                revision += 1
                server.set(PAGE, html_page(1, args.page_bytes, revision=revision), etag=f'"r{revision}"')
                next_change = len(server.hits_for(PAGE)) + args.change_every
            time.sleep(0.2)
        cycles = len(server.hits_for(PAGE)) - first
        elapsed = time.monotonic() - start
    finally:
        stop_service(service)
        smtp.stop()
        server.stop()

    if not samples:
        raise SystemExit("no samples")
    if args.samples:
        with open(args.samples, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["seconds", "polls", "parent_rss_kb", "tree_rss_kb", "largest_child_rss_kb", "tree_pss_kb"])
            writer.writerows((f"{s[0]:.2f}", *s[1:]) for s in samples)
    mb = lambda kb: kb / 1024  # noqa: E731
    start_kb, end_kb = samples[0][2], samples[-1][2]
    max_kb = max(s[2] for s in samples)
    tree_max = max(s[3] for s in samples)
    pss_max = max(s[5] for s in samples)
    tenth = max(1, len(samples) // 10)
    early = sum(s[2] for s in samples[:tenth]) / tenth
    late = sum(s[2] for s in samples[-tenth:]) / tenth
    # The crawl children: the largest child RSS seen during each poll that had a child sampled.
    child_peak: dict[int, int] = {}
    for s in samples:
        if s[4]:
            child_peak[s[1]] = max(child_peak.get(s[1], 0), s[4])
    peaks = sorted(child_peak.items())
    ctenth = max(1, len(peaks) // 10)
    child_early = sum(v for _, v in peaks[:ctenth]) / ctenth if peaks else 0
    child_late = sum(v for _, v in peaks[-ctenth:]) / ctenth if peaks else 0
    child_max = max(child_peak.values(), default=0)
    parent_slope = slope([(s[1], mb(s[2])) for s in samples]) * 1000
    child_slope = slope([(n, mb(v)) for n, v in peaks]) * 1000
    pss_slope = slope([(s[1], mb(s[5])) for s in samples]) * 1000
    flat = late <= early * 1.10 + 10 * 1024 and child_late <= child_early * 1.10 + 10 * 1024
    under = pss_max <= LIMIT_MB * 1024
    pss_tenth = max(1, len(samples) // 10)
    pss_early = sum(s[5] for s in samples[:pss_tenth]) / pss_tenth
    pss_late = sum(s[5] for s in samples[-pss_tenth:]) / pss_tenth
    print(
        f"\n{cycles} poll cycles in {elapsed:.0f} s, {revision} page changes, {len(smtp.received)} messages; "
        f"{len(samples)} samples"
    )
    print(
        f"service (parent) RSS: start {mb(start_kb):.1f} MB, max {mb(max_kb):.1f} MB, end {mb(end_kb):.1f} MB; "
        f"first-tenth mean {mb(early):.1f} MB, last-tenth mean {mb(late):.1f} MB"
    )
    print(
        f"crawl child RSS, peak per poll ({len(peaks)} polls with a child sampled): first/last tenth mean "
        f"{mb(child_early):.1f} / {mb(child_late):.1f} MB, max {mb(child_max):.1f} MB"
    )
    print(
        f"process tree (parent + crawl child): max PSS {mb(pss_max):.1f} MB; max RSS sum {mb(tree_max):.1f} MB "
        f"(counts pages shared after a fork twice)"
    )
    print(
        f"trend (least squares against polls, MB per 1,000 polls): parent RSS {parent_slope:+.2f}, "
        f"crawl child peak {child_slope:+.2f}, tree PSS {pss_slope:+.2f}; tree PSS first / last tenth mean "
        f"{mb(pss_early):.1f} / {mb(pss_late):.1f} MB"
    )
    print(f"machine: {machine()}\n")
    database = "fresh database" if args.fresh_database else "database made beforehand"
    print(
        f"| whole process tree ≤ {LIMIT_MB} MB PSS over 1,000 polls, flat | `python benchmarks/bench_memory.py "
        f"--polls {cycles}` | peak **{mb(pss_max):.1f} MB** PSS ({met(under)}), {pss_slope:+.1f} MB per 1,000 "
        f"polls ({'flat' if flat else '**not flat**'}); {cycles} polls, {database} |"
    )
    return 0 if flat and under else 1


if __name__ == "__main__":
    sys.exit(main())
