"""Benchmark: poll cost per page, Rulewatch's service path against urlwatch, in one run.

    python benchmarks/bench_poll.py [--pages 500] [--runs 5] [--page-bytes 12000] [--one-shot]

A loopback FixtureServer (in its own process, so its CPU is not counted) serves N
deterministic HTML pages, each with an ETag, and a robots.txt that disallows a path
none of them uses (so it is read and applied). Each run, on a fresh database and cache:

- Rulewatch: one `page` source per URL (SQLite, `[fetch] delay = 0` for the benchmark
  only, `retries = 0`), checked the way `rulewatch run` checks, through a WarmCrawler
  whose crawl process was started beforehand: the first fetch, then the conditional pass
  (every page answers 304). CPU is this process (as the service: storing what the crawl
  process read, recording each source's result and health) plus the warm crawl process (utime + stime of
  /proc/<pid>/stat around the check). `--one-shot` measures `rulewatch check` instead
  (tracker.crawl.launch.run_check: a fresh crawl process per pass, its start-up included).
- urlwatch 2.29, installed by this script into benchmarks/.peers/urlwatch (a venv of its
  own, git-ignored) when missing: the same N URLs twice (its cache in a temp dir,
  reporters off), as processes.

Prints the medians over the runs, per page, and the ratios. Goal (issue 12): Rulewatch's
CPU per page at most urlwatch's, on the first and on the conditional pass. Exits 1 when
not met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import Cost, Meter, html_page, machine, met

URLWATCH = "urlwatch==2.29"
PEER_VENV = ROOT / "benchmarks" / ".peers" / "urlwatch"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP = "warm-up"  # a source outside the N pages, checked once before the passes


def serve(pages: int, size: int) -> None:
    """Child mode: serve the pages until stdin closes; print the base URL first."""
    from http.server import ThreadingHTTPServer

    from tracker.demo.server import FixtureServer

    # The standard library listens with a backlog of 5; urlwatch opens ten connections at
    # once and would see SYN drops and timeouts, which measure the fixture, not the tools.
    ThreadingHTTPServer.request_queue_size = 1024
    server = FixtureServer()
    server.set("/robots.txt", ROBOTS, content_type="text/plain")
    server.set("/warm-up", html_page(pages, size), etag='"w-r0"')
    for i in range(pages):
        server.set(f"/page/{i}", html_page(i, size), etag=f'"p{i}-r0"')
    server.start()
    print(server.base_url, flush=True)
    for _request in sys.stdin:  # "count": how many requests so far, and how many were conditional
        hits = list(server.hits)
        robots = sum(hit.path == "/robots.txt" for hit in hits)
        conditional = sum("If-None-Match" in hit.headers for hit in hits)
        print(f"{len(hits)} {robots} {conditional}", flush=True)
    server.stop()


@dataclass
class Server:
    process: subprocess.Popen
    base: str

    def counts(self) -> tuple[int, int, int]:
        """(requests, robots.txt requests, conditional requests) served so far."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        total, robots, conditional = map(int, self.process.stdout.readline().split())
        return total, robots, conditional

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(pages: int, size: int) -> Server:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--pages", str(pages), "--page-bytes", str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    base = child.stdout.readline().strip()
    if not base.startswith("http://127.0.0.1:"):
        child.kill()
        raise SystemExit("the fixture server did not start")
    return Server(child, base)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, its waited-for children included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICKS  # utime, stime, cutime, cstime


def rulewatch_config(base: str, pages: int, work: Path):
    from tracker.config import load_config

    lines = ['[database]\nurl = "sqlite:///rulewatch.db"\n', "[fetch]\ndelay = 0\nretries = 0\ntimeout = 30\n"]
    lines.append(f'[[sources]]\nname = "{WARM_UP}"\nkind = "page"\nurl = "{base}/warm-up"\ninterval = "1h"\n')
    for i in range(pages):
        lines.append(f'[[sources]]\nname = "p{i:04d}"\nkind = "page"\nurl = "{base}/page/{i}"\ninterval = "1h"\n')
    path = work / "rulewatch.toml"
    path.write_text("\n".join(lines))
    return load_config(path)


def tally(results) -> tuple[str, int]:
    fetched = sum(r.fetched for r in results)
    unchanged = sum(r.unchanged for r in results)
    failed = [r for r in results if r.status != "ok"]
    line = f"{fetched} fetched / {unchanged} not modified / {len(failed)} failed"
    if failed:
        line += "; first failure: " + failed[0].line()
    return line, len(failed)


def rulewatch_passes(server: Server, pages: int, work: Path, one_shot: bool) -> tuple[Cost, Cost]:
    from storage.db import open_database
    from tracker.crawl.launch import run_check
    from tracker.crawl.warm import WarmCrawler

    config = rulewatch_config(server.base, pages, work)
    engine = open_database(config.database_url)
    names = [source.name for source in config.sources if source.name != WARM_UP]
    crawler = WarmCrawler(config, engine)
    costs = []
    log = open(work / "crawl.log", "wb")
    saved = os.dup(2)
    report = os.fdopen(os.dup(saved), "w", buffering=1)  # this script's stderr while fd 2 is the log
    os.dup2(log.fileno(), 2)  # the crawl prints a line per page; the crawl process inherits this stderr
    try:
        if not one_shot:
            crawler.warm_up()
            # The service's crawl process has run checks before: its reactor is up, its imports done.
            crawler.check([WARM_UP])
        for _ in range(2):
            before = server.counts()
            pids = crawler.pids()
            child = sum(process_cpu(pid) for pid in pids)
            with Meter() as meter:
                results = run_check(config, engine, names) if one_shot else crawler.check(names)
            if not one_shot:
                if crawler.pids() != pids:
                    raise SystemExit("the warm crawl process was replaced during the check; its CPU is lost")
                warm = sum(process_cpu(pid) for pid in pids) - child
                meter.cost = Cost(meter.cost.wall, meter.cost.own + warm, meter.cost.own, warm)
            costs.append(meter.cost)
            after = server.counts()
            line, failed = tally(results)
            robots, conditional = after[1] - before[1], after[2] - before[2]
            print(
                f"  rulewatch pass {len(costs)}: {meter.cost.wall:.2f} s wall, {meter.cost.cpu:.2f} s CPU "
                f"(crawl process {meter.cost.children:.2f} s, this process {meter.cost.own:.2f} s); {line}; "
                f"{after[0] - before[0]} requests, {robots} robots.txt, {conditional} conditional",
                file=report,
            )
            if failed or robots != 1:
                tail = (work / "crawl.log").read_text(errors="replace").splitlines()[-15:]
                raise SystemExit("the Rulewatch pass did not check every page politely:\n  " + "\n  ".join(tail))
    finally:
        crawler.stop()
        os.dup2(saved, 2)
        os.close(saved)
        report.close()
        log.close()
        engine.dispose()
    return costs[0], costs[1]


def urlwatch_executable() -> Path:
    """urlwatch in its own venv under benchmarks/.peers, installed there on first use."""
    executable = PEER_VENV / "bin" / "urlwatch"
    if not executable.exists():
        print(f"installing {URLWATCH} into {PEER_VENV} (once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "--quiet", URLWATCH], check=True)
    return executable


def urlwatch_passes(executable: Path, server: Server, pages: int, work: Path) -> tuple[Cost, Cost]:
    urls = work / "urls.yaml"
    urls.write_text("---\n".join(f"name: p{i}\nurl: {server.base}/page/{i}\n" for i in range(pages)))
    config = work / "urlwatch.yaml"
    config.write_text("report:\n  stdout:\n    enabled: false\n    color: false\n  email:\n    enabled: false\n")
    hooks = work / "hooks.py"
    hooks.write_text("")
    command = [str(executable), "--urls", str(urls), "--config", str(config)]
    command += ["--cache", str(work / "cache.db"), "--hooks", str(hooks)]
    env = {**os.environ, "HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_CACHE_HOME": str(work)}
    costs = []
    for _ in range(2):
        before = server.counts()
        with Meter() as meter:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
        costs.append(meter.cost)
        after = server.counts()
        print(
            f"  urlwatch pass {len(costs)}: {meter.cost.wall:.2f} s wall, {meter.cost.cpu:.2f} s CPU (exit "
            f"{done.returncode}); {after[0] - before[0]} requests, {after[2] - before[2]} conditional",
            file=sys.stderr,
            flush=True,
        )
        if done.returncode != 0 or after[0] - before[0] != pages:
            raise SystemExit("urlwatch did not check every page:\n" + done.stderr[-2000:])
    return costs[0], costs[1]


def median_ms(costs: list[Cost], pages: int, part: str = "cpu") -> float:
    return statistics.median(getattr(cost, part) for cost in costs) / pages * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5, help="runs of both tools; medians are reported")
    parser.add_argument("--page-bytes", type=int, default=12_000, help="approximate size of each page")
    parser.add_argument("--one-shot", action="store_true", help="measure `rulewatch check`'s fresh crawl process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.pages, args.page_bytes)
        return 0

    executable = urlwatch_executable()
    version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.strip()
    server = start_server(args.pages, args.page_bytes)
    rw: list[tuple[Cost, Cost]] = []
    uw: list[tuple[Cost, Cost]] = []
    load = os.getloadavg()[0]
    try:
        for run in range(1, args.runs + 1):
            print(f"run {run} of {args.runs}", file=sys.stderr, flush=True)
            work = Path(tempfile.mkdtemp(prefix="rulewatch-bench-poll-"))
            try:
                (work / "rw").mkdir()
                (work / "uw").mkdir()
                rw.append(rulewatch_passes(server, args.pages, work / "rw", args.one_shot))
                uw.append(urlwatch_passes(executable, server, args.pages, work / "uw"))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        server.stop()
    load = max(load, os.getloadavg()[0])

    n = args.pages
    path = "one-shot `rulewatch check`" if args.one_shot else "warm crawl process (as `rulewatch run`)"
    rw_first, rw_second = median_ms([c[0] for c in rw], n), median_ms([c[1] for c in rw], n)
    uw_first, uw_second = median_ms([c[0] for c in uw], n), median_ms([c[1] for c in uw], n)
    first_ratio, second_ratio = rw_first / uw_first, rw_second / uw_second
    ok = first_ratio <= 1 and second_ratio <= 1
    print(
        f"\n{n} pages x ~{args.page_bytes:,} bytes on a loopback server; medians of {len(rw)} runs; Rulewatch: {path}"
    )
    for label, costs in (("Rulewatch", rw), (version, uw)):
        for index, name in ((0, "first"), (1, "conditional" if label == "Rulewatch" else "second")):
            passes = [c[index] for c in costs]
            spread = ", ".join(f"{c.cpu / n * 1000:.2f}" for c in passes)
            extra = ""
            if label == "Rulewatch":
                extra = (
                    f"; of which crawl process {median_ms(passes, n, 'children'):.2f}, "
                    f"storing and bookkeeping here {median_ms(passes, n, 'own'):.2f}"
                )
            print(
                f"{label} {name}: {median_ms(passes, n):.2f} ms CPU a page ({spread}), "
                f"{median_ms(passes, n, 'wall'):.2f} ms wall{extra}"
            )
    print(
        f"Rulewatch / urlwatch, CPU a page: first {first_ratio:.2f}x, conditional {second_ratio:.2f}x "
        f"(1 or less meets the goal)"
    )
    print(f"machine: {machine()}; load average up to {load:.1f}\n")
    print(
        f"| poll CPU per page ≤ urlwatch's, first and conditional passes ({n} pages) "
        f"| `python benchmarks/bench_poll.py{' --one-shot' if args.one_shot else ''}` | first {rw_first:.1f} vs {uw_first:.1f} ms "
        f"(**{first_ratio:.2f}x**), 304 {rw_second:.1f} vs {uw_second:.1f} ms (**{second_ratio:.2f}x**): "
        f"{met(ok)} |"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
