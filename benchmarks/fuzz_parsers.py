"""Long fuzz run over every parser of every kind (opt-in; CI runs the short one).

    python benchmarks/fuzz_parsers.py [--seconds N] [--seed S] [--targets html,xml,...]
                                      [--hang-seconds H] [--no-retype] [--out DIR]

Uses the harness of tests/tracker/test_fuzz_parsers.py: the saved fixtures cut,
bit-flipped, spliced, or replaced by random bytes, plus (unless --no-retype)
valid JSON whose values change type. Each input must give a Content or a
ContentError within --hang-seconds (a hang detector, not a speed check).

The time is shared round-robin between the targets. At the end it prints the
inputs tried per parser and each distinct failure (by exception type and
place), with the failing input saved under --out (a new temp folder by
default) and a one-line reproducer. Exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tracker.test_fuzz_parsers import (
    HANG_SECONDS,
    MUTATIONS,
    TARGETS,
    Failure,
    inputs,
    retype_json,
    run,
)

REPRODUCER = (
    "python -c \"import sys; sys.path.insert(0, '.'); from pathlib import Path; "
    "from tests.tracker.test_fuzz_parsers import TARGETS, snapshot; "
    "from tests.tracker.test_fuzz_parsers import read_as; "
    "read_as(TARGETS['{target}'], snapshot(TARGETS['{target}'], Path('{path}').read_bytes()))\""
)


def signature(failure: Failure) -> str:
    """Exception type and the innermost frame: one entry per distinct bug."""
    lines = [line.strip() for line in failure.trace.splitlines() if line.strip().startswith("File ")]
    return f"{failure.target}: {failure.error.split(':')[0]} at {lines[-1] if lines else '?'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="total run time (default 300)")
    parser.add_argument("--seed", default=str(int(time.time())), help="random seed (default: the clock)")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, from {', '.join(TARGETS)}")
    parser.add_argument("--hang-seconds", type=float, default=HANG_SECONDS)
    parser.add_argument("--no-retype", action="store_true", help="byte mutations only")
    parser.add_argument("--out", type=Path, default=None, help="where failing inputs are saved")
    args = parser.parse_args()

    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)}")
    # pypdf logs every damaged file it reads; the outcome is what is checked here.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")

    streams = {}
    for name in names:
        mutations = MUTATIONS
        if not args.no_retype and "json" in name and TARGETS[name].record is None:
            mutations = MUTATIONS + (retype_json,) * 2
        streams[name] = inputs(TARGETS[name], random.Random(f"{args.seed}-{name}"), mutations)

    out = args.out or Path(tempfile.mkdtemp(prefix="rulewatch-fuzz-"))
    tried = dict.fromkeys(names, 0)
    outcomes = {name: {"content": 0, "refused": 0, "failed": 0} for name in names}
    found: dict[str, tuple[Failure, Path]] = {}
    print(f"fuzzing {', '.join(names)} for {args.seconds:g} s (seed {args.seed})", flush=True)
    started = time.monotonic()
    deadline = started + args.seconds
    next_report = started + 30
    while time.monotonic() < deadline:
        for name in names:
            body = next(streams[name])
            try:
                outcome = run(TARGETS[name], body, args.hang_seconds)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                outcome = Failure(name, body, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            tried[name] += 1
            if isinstance(outcome, Failure):
                outcomes[name]["failed"] += 1
                key = signature(outcome)
                if key not in found:
                    out.mkdir(parents=True, exist_ok=True)
                    path = out / f"{name}-{len(found) + 1}.bin"
                    path.write_bytes(body)
                    path.with_suffix(".txt").write_text(f"{outcome.error}\n\n{outcome.trace}", encoding="utf-8")
                    found[key] = (outcome, path)
                    print(f"FAILURE {key}\n  {outcome.error[:200]}\n  saved {path}", flush=True)
            else:
                outcomes[name][outcome] += 1
        if time.monotonic() >= next_report:
            next_report += 30
            done = ", ".join(f"{name} {count}" for name, count in tried.items())
            print(f"[{time.monotonic() - started:.0f} s] {done}", flush=True)

    elapsed = time.monotonic() - started
    print(f"\n{'parser':<15}{'inputs':>9}{'per s':>9}{'content':>9}{'refused':>9}{'failed':>8}")
    for name in names:
        o = outcomes[name]
        rate = tried[name] / elapsed if elapsed else 0.0
        print(f"{name:<15}{tried[name]:>9}{rate:>9.0f}{o['content']:>9}{o['refused']:>9}{o['failed']:>8}")
    print(f"total {sum(tried.values())} inputs in {elapsed:.0f} s")
    if not found:
        print("no crash or hang")
        return 0
    print(f"\n{len(found)} distinct failure(s); inputs saved in {out}")
    for key, (failure, path) in found.items():
        print(f"\n{key}\n  {failure.error[:300]}\n  reproduce: {REPRODUCER.format(target=failure.target, path=path)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
