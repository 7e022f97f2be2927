"""Benchmark: resident memory of `rulewatch run` over many poll cycles.

    python benchmarks/bench_memory.py [--cycles 300] [--minutes 10] [--change-every 10]

Starts `rulewatch run` (python -m tracker.cli --config … run) with one `page` source
at interval "1s" on a loopback FixtureServer, a free [web] port, a subscriber and
an aiosmtpd sink on 127.0.0.1. The page changes every `--change-every` cycles, so
the ingest, diff and mail paths run too. VmRSS of the service process (the
parent, /proc/<pid>/status) is sampled every 0.2 s, and so is the whole process
tree (the crawl children are short-lived), until `--cycles` polls have been
served or `--minutes` have passed, whichever comes first. Reports the parent's
RSS after the first cycle (start), its max and its end, and the tree's max.
Goal: flat (end within 10% of start + 10 MB) and under 250 MB. Exits 1 when not met.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import html_page, machine, met, status_kb  # noqa: E402
from benchmarks.service import (SmtpRecorder, free_port, start_service, stop_service,  # noqa: E402
                                timed_server, wait_until, workdir, write_config)

LIMIT_MB = 250
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--change-every", type=int, default=10, help="change the page every N polls")
    parser.add_argument("--page-bytes", type=int, default=12_000)
    args = parser.parse_args(argv)

    server = timed_server()
    revision = 0
    server.set(PAGE, html_page(1, args.page_bytes, revision=revision), etag='"r0"')
    smtp = SmtpRecorder().start()
    work = workdir("rulewatch-bench-memory-")
    config = write_config(work, server.url(PAGE), smtp.port, free_port(), interval="1s")
    service = start_service(config, work / "service.log")
    samples: list[tuple[float, int, int]] = []  # (time, parent KB, tree KB)
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
            tree = parent + sum(status_kb(pid) or 0 for pid in descendants(service.pid))
            samples.append((time.monotonic() - start, parent, tree))
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
    mb = lambda kb: kb / 1024  # noqa: E731
    start_kb, end_kb = samples[0][1], samples[-1][1]
    max_kb = max(s[1] for s in samples)
    tree_max = max(s[2] for s in samples)
    tenth = max(1, len(samples) // 10)
    early = sum(s[1] for s in samples[:tenth]) / tenth
    late = sum(s[1] for s in samples[-tenth:]) / tenth
    flat = late <= early * 1.10 + 10 * 1024
    under = max_kb < LIMIT_MB * 1024
    print(f"\n{cycles} poll cycles in {elapsed:.0f} s, {revision} page changes, {len(smtp.received)} messages; "
          f"{len(samples)} samples")
    print(f"service (parent) RSS: start {mb(start_kb):.1f} MB, max {mb(max_kb):.1f} MB, end {mb(end_kb):.1f} MB; "
          f"first-tenth mean {mb(early):.1f} MB, last-tenth mean {mb(late):.1f} MB")
    print(f"process tree (parent + crawl child) max RSS: {mb(tree_max):.1f} MB")
    print(f"machine: {machine()}\n")
    print("| cycles | parent RSS start / max / end | tree max | flat | goal < 250 MB | machine |")
    print("|---|---|---|---|---|---|")
    print(f"| {cycles} | {mb(start_kb):.0f} / {mb(max_kb):.0f} / {mb(end_kb):.0f} MB | {mb(tree_max):.0f} MB "
          f"| {met(flat)} (first/last tenth {mb(early):.0f} / {mb(late):.0f} MB) | {met(under)} | {machine()} |")
    return 0 if flat and under else 1


if __name__ == "__main__":
    sys.exit(main())
