"""Benchmark: poll cost of one pass over unchanged pages, Rulewatch against urlwatch.

    python benchmarks/bench_poll.py [--pages 500] [--page-bytes 12000] [--skip-urlwatch]

A loopback FixtureServer (in its own process, so its CPU is not counted) serves
N deterministic HTML pages, each with an ETag. Rulewatch gets one `page` source
per URL (a generated config with SQLite, `[fetch] delay = 0`, `retries = 0`)
and runs two `rulewatch check` passes through tracker.crawl.launch.run_check with all
N names in one crawl process: the first fetch, then the conditional re-fetch
(every page answers 304). CPU is this process plus the waited-for crawl process
(RUSAGE_SELF + RUSAGE_CHILDREN deltas). Then urlwatch checks the same N URLs
twice (its own cache in a temp dir, reporters off), measured the same way.

Goals: Rulewatch at least as fast per page as urlwatch (wall time of the
conditional pass, each tool's second pass), and Rulewatch's conditional pass at
least 2x cheaper in CPU than its first. Exits 1 when a goal is not met.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import Cost, Meter, html_page, machine, met


def serve(pages: int, size: int) -> None:
    """Child mode: serve the pages until stdin closes; print the base URL first."""
    from http.server import ThreadingHTTPServer

    from tracker.demo.server import FixtureServer

    # The standard library listens with a backlog of 5; the crawl opens hundreds of
    # connections at once and would see SYN drops and 30 s timeouts, which measure
    # the fixture, not Rulewatch. A real web server's backlog is in the hundreds.
    ThreadingHTTPServer.request_queue_size = 1024
    server = FixtureServer()
    for i in range(pages):
        server.set(f"/page/{i}", html_page(i, size), etag=f'"p{i}-r0"')
    server.start()
    print(server.base_url, flush=True)
    sys.stdin.read()  # the parent closes it (or dies): stop
    server.stop()
    paths = [hit.path for hit in server.hits]
    conditional = sum("If-None-Match" in hit.headers or "If-Modified-Since" in hit.headers for hit in server.hits)
    print(
        f"fixture server: {len(paths)} requests ({len(set(paths))} distinct paths), {conditional} conditional",
        file=sys.stderr,
    )


def start_server(pages: int, size: int) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--pages", str(pages), "--page-bytes", str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    base = child.stdout.readline().strip()
    if not base.startswith("http://127.0.0.1:"):
        child.kill()
        raise SystemExit("the fixture server did not start")
    return child, base


@contextlib.contextmanager
def quiet_stderr(path: Path):
    """Send this process's (and so the crawl child's) stderr to `path` for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def rulewatch_passes(base: str, pages: int, work: Path) -> tuple[Cost, Cost, str]:
    from storage.db import open_database
    from tracker.config import load_config
    from tracker.crawl.launch import run_check

    lines = ['[database]\nurl = "sqlite:///rulewatch.db"\n', "[fetch]\ndelay = 0\nretries = 0\ntimeout = 30\n"]
    for i in range(pages):
        lines.append(f'[[sources]]\nname = "p{i:04d}"\nkind = "page"\nurl = "{base}/page/{i}"\ninterval = "1h"\n')
    path = work / "rulewatch.toml"
    path.write_text("\n".join(lines))
    config = load_config(path)
    engine = open_database(config.database_url)
    names = [source.name for source in config.sources]
    costs, summaries = [], []
    for _ in range(2):
        log = work / f"crawl-{len(costs) + 1}.log"
        with quiet_stderr(log), Meter() as meter:  # the crawl prints a line per page
            results = run_check(config, engine, names)
        costs.append(meter.cost)
        fetched = sum(r.fetched for r in results)
        unchanged = sum(r.unchanged for r in results)
        failed = sum(r.status != "ok" for r in results)
        summaries.append(f"{fetched} fetched / {unchanged} not modified / {failed} failed")
        print(
            f"rulewatch pass {len(costs)}: {meter.cost.wall:.2f} s wall, {meter.cost.cpu:.2f} s CPU "
            f"(crawl process {meter.cost.children:.2f} s, run_check in this process {meter.cost.own:.2f} s); "
            + summaries[-1],
            file=sys.stderr,
        )
        if failed:
            print("  first failure: " + next(r.line() for r in results if r.status != "ok"), file=sys.stderr)
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print("  end of the crawl's messages:\n    " + "\n    ".join(tail), file=sys.stderr)
    engine.dispose()
    return costs[0], costs[1], "; ".join(summaries)


def urlwatch_passes(base: str, pages: int, work: Path) -> tuple[Cost, Cost, str]:
    executable = shutil.which("urlwatch") or str(Path(sys.executable).parent / "urlwatch")
    if not Path(executable).exists():
        raise SystemExit("urlwatch is not installed: pip install urlwatch (into this venv only)")
    version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.strip()
    urls = work / "urls.yaml"
    urls.write_text("---\n".join(f"name: p{i}\nurl: {base}/page/{i}\n" for i in range(pages)))
    config = work / "urlwatch.yaml"
    config.write_text("report:\n  stdout:\n    enabled: false\n    color: false\n  email:\n    enabled: false\n")
    hooks = work / "hooks.py"
    hooks.write_text("")
    command = [
        executable,
        "--urls",
        str(urls),
        "--config",
        str(config),
        "--cache",
        str(work / "cache.db"),
        "--hooks",
        str(hooks),
    ]
    env = {**os.environ, "HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_CACHE_HOME": str(work)}
    costs = []
    for _ in range(2):
        with Meter() as meter:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
        costs.append(meter.cost)
        print(
            f"urlwatch pass {len(costs)}: {meter.cost.wall:.2f} s wall, {meter.cost.cpu:.2f} s CPU "
            f"(exit {done.returncode})",
            file=sys.stderr,
        )
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
    return costs[0], costs[1], version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--page-bytes", type=int, default=12_000, help="approximate size of each page")
    parser.add_argument("--skip-urlwatch", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.pages, args.page_bytes)
        return 0

    server, base = start_server(args.pages, args.page_bytes)
    work = Path(tempfile.mkdtemp(prefix="rulewatch-bench-poll-"))
    try:
        (work / "rw").mkdir()
        rw_first, rw_second, rw_summary = rulewatch_passes(base, args.pages, work / "rw")
        if args.skip_urlwatch:
            uw_first = uw_second = Cost(float("nan"), float("nan"))
            uw_version = "urlwatch skipped"
        else:
            (work / "uw").mkdir()
            uw_first, uw_second, uw_version = urlwatch_passes(base, args.pages, work / "uw")
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)

    n = args.pages
    per = lambda cost: f"{cost.wall / n * 1000:.1f} ms wall, {cost.cpu / n * 1000:.1f} ms CPU"  # noqa: E731
    cheaper = rw_first.cpu / rw_second.cpu if rw_second.cpu else float("inf")
    faster = rw_second.wall / n <= uw_second.wall / n and rw_first.wall / n <= uw_first.wall / n
    print(f"\npages: {n} x ~{args.page_bytes:,} bytes on a loopback server; {rw_summary}")
    print(f"Rulewatch first fetch: {rw_first.wall:.2f} s wall, {rw_first.cpu:.2f} s CPU ({per(rw_first)} per page)")
    print(f"Rulewatch conditional: {rw_second.wall:.2f} s wall, {rw_second.cpu:.2f} s CPU ({per(rw_second)} per page)")
    print(
        f"  CPU split (crawl process / run_check here): first {rw_first.children:.2f} / {rw_first.own:.2f} s, "
        f"conditional {rw_second.children:.2f} / {rw_second.own:.2f} s"
    )
    print(f"{uw_version} first:  {uw_first.wall:.2f} s wall, {uw_first.cpu:.2f} s CPU ({per(uw_first)} per page)")
    print(f"{uw_version} second: {uw_second.wall:.2f} s wall, {uw_second.cpu:.2f} s CPU ({per(uw_second)} per page)")
    print(f"machine: {machine()}\n")
    print(
        "| pages | Rulewatch first (per page) | Rulewatch conditional (per page) | urlwatch first "
        "(per page) | urlwatch second (per page) | goal: as fast as urlwatch | goal: conditional "
        "≥ 2x cheaper (CPU) | machine |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {n} | {per(rw_first)} | {per(rw_second)} | {per(uw_first)} | {per(uw_second)} "
        f"| {'not measured' if args.skip_urlwatch else met(faster)} | {cheaper:.1f}x: {met(cheaper >= 2)} "
        f"| {machine()} |"
    )
    return 0 if (faster or args.skip_urlwatch) and cheaper >= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
