"""Shared helpers for the benchmarks: machine description, deterministic pages, timing."""

from __future__ import annotations

import os
import platform
import random
import resource
import time
from dataclasses import dataclass
from pathlib import Path

WORDS = [
    "export",
    "license",
    "item",
    "entity",
    "control",
    "regulation",
    "section",
    "paragraph",
    "exporter",
    "semiconductor",
    "computing",
    "end",
    "user",
    "country",
    "group",
    "destination",
    "review",
    "applicant",
    "authorization",
    "transfer",
    "reexport",
    "technology",
    "software",
    "denial",
    "notice",
    "amendment",
]


def machine() -> str:
    """CPU model (from /proc/cpuinfo), logical cores and the Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def html_page(index: int, size: int, revision: int = 0, seed: int = 11) -> bytes:
    """A deterministic regulation-like HTML page of about `size` bytes.

    `revision` changes one sentence, so each revision is a real (small) text change.
    """
    rng = random.Random(seed * 1_000_003 + index)
    parts = [
        f"<html><head><title>Guidance {index}</title></head><body><nav>menu</nav><main>",
        f"<h1>Guidance note {index}</h1>",
    ]
    total = sum(map(len, parts))
    paragraph = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(30, 90)))
        text = f"<p>({paragraph}) {words.capitalize()}.</p>\n"
        parts.append(text)
        total += len(text)
        paragraph += 1
    parts.insert(2, f"<p>Revision {revision}: the license review period is {30 + revision} days.</p>")
    parts.append("</main><footer>footer</footer></body></html>")
    return "".join(parts).encode()


@dataclass
class Cost:
    wall: float
    cpu: float  # user + system, this process plus waited-for children
    own: float = 0.0  # of which this process
    children: float = 0.0  # of which the waited-for children


def cpu_parts() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class Meter:
    """with Meter() as m: ...; then m.cost holds wall and CPU seconds."""

    def __enter__(self) -> Meter:
        self._wall, self._cpu = time.perf_counter(), cpu_parts()
        return self

    def __exit__(self, *exc) -> None:
        own, kids = cpu_parts()
        own, kids = own - self._cpu[0], kids - self._cpu[1]
        self.cost = Cost(time.perf_counter() - self._wall, own + kids, own, kids)


def status_kb(pid: int, field: str = "VmRSS") -> int | None:
    """A /proc/<pid>/status field in KB, or None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"
