"""Fuzzing every parser of every kind with damaged versions of the saved fixtures.

Inputs are the saved HTML, eCFR XML, Federal Register JSON and PDF files cut at
random points, with bits flipped, spliced with random bytes, or replaced by
random bytes altogether. For each, the kind's reader (`KINDS[...].read`) may give a
`Content` or raise `ContentError`; any other exception is a crash. Every call
runs under a wall-clock alarm (`HANG_SECONDS`, generous): it detects hangs, it
is not a speed check.

The in-suite run is small and seeded (the same inputs every run). The long run
is `python benchmarks/fuzz_parsers.py --seconds N`, which uses this harness.
"""

from __future__ import annotations

import json
import random
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.items import Snapshot
from tracker.kinds import KINDS
from tracker.reading.content import Content
from tracker.reading.errors import ContentError

FILES = Path(__file__).resolve().parent.parent / "files"
HANG_SECONDS = 10.0


# --- the corpus --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One parser: its seed files and how a body reaches it through read_body."""

    name: str
    seeds: tuple[Path, ...]
    content_type: str
    extra: dict = field(default_factory=dict)
    key: str = "https://www.bis.gov/fuzz"
    # When set, the fuzzed bytes are the Federal Register full-text attachment of this record.
    record: Path | None = None


def _files(pattern: str, *, exclude: str = "") -> tuple[Path, ...]:
    return tuple(p for p in sorted(FILES.glob(pattern)) if not (exclude and p.name.endswith(exclude)))


TARGETS = {
    "html": Target("html", _files("**/*.html"), "text/html; charset=utf-8"),
    "html-sniffed": Target("html-sniffed", _files("**/*.html"), "application/octet-stream"),
    "xml": Target("xml", _files("ecfr/*.xml"), "application/xml", {"format": "ecfr"}, "15 CFR 744"),
    "json": Target(
        "json",
        _files("federal_register/*.json", exclude=".expected.json"),
        "application/json; charset=utf-8",
        {"format": "federal_register", "stage": "published"},
        "2025-00636",
    ),
    "json-generic": Target("json-generic", _files("**/*.json"), "application/json"),
    "json-fulltext": Target(
        "json-fulltext",
        _files("federal_register/*.html") + _files("federal_register/*.txt"),
        "application/json; charset=utf-8",
        {"format": "federal_register", "stage": "published"},
        "2025-00636",
        FILES / "federal_register" / "2025-00636.json",
    ),
    "pdf": Target("pdf", _files("bis/*.pdf") + _files("normalize/sample.pdf"), "application/pdf"),
}


def snapshot(target: Target, body: bytes) -> Snapshot:
    extra = dict(target.extra)
    if target.record is not None:
        content_type = "text/plain; charset=utf-8" if body[:1] not in b"<" else "text/html; charset=utf-8"
        extra["attachments"] = [
            {
                "role": "full_text",
                "url": "https://www.federalregister.gov/full_text",
                "status": 200,
                "content_type": content_type,
                "body": body,
            }
        ]
        body = target.record.read_bytes()
    return Snapshot(
        source="fuzz",
        key=target.key,
        url="https://www.bis.gov/fuzz",
        final_url="https://www.bis.gov/fuzz",
        status=200,
        headers={"Content-Type": target.content_type},
        body=body,
        fetched_at=datetime(2026, 11, 25, tzinfo=UTC),
        extra=extra,
    )


# --- mutations ---------------------------------------------------------------------------


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    return rng.randbytes(rng.randint(0, 2048))


def splice(rng: random.Random, data: bytes) -> bytes:
    """Random bytes, or a copy of another stretch of the file, written over a stretch."""
    if not data:
        return rng.randbytes(16)
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(0, 64))
    if rng.random() < 0.5:
        filler = rng.randbytes(rng.randint(0, 64))
    else:
        at = rng.randrange(len(data))
        filler = data[at : at + rng.randint(1, 256)] * rng.randint(1, 8)
    return data[:start] + filler + data[end:]


def keep_prefix(rng: random.Random, data: bytes) -> bytes:
    """A valid header (`%PDF-`, `<?xml`, `{`) followed by noise."""
    return data[: rng.randint(1, 16)] + rng.randbytes(rng.randint(0, 512))


MUTATIONS = (truncate, flip_bits, random_bytes, splice, keep_prefix)


def _random_json(rng: random.Random, depth: int = 0):
    choices = [None, True, False, 0, -1, 2**70, 1e308, "", "x" * rng.randint(1, 40), "\u00e9\u200b<script>"]
    if depth < 2:
        choices += [[_random_json(rng, depth + 1)], {"name": _random_json(rng, depth + 1)}, [], {}]
    return rng.choice(choices)


def retype_json(rng: random.Random, data: bytes) -> bytes:
    """Valid JSON whose values change type: a list where a string was, a number for a list.

    Byte mutations almost never keep JSON valid, so this one reaches the code that reads
    the fields. It finds the known crashes below; the long run uses it (`--retype`), the
    in-suite run keeps them as regression tests.
    """
    try:
        value = json.loads(data)
    except ValueError:
        return data
    holders = [value]
    for holder in holders:  # every dict and list in the document, breadth first
        items = holder.values() if isinstance(holder, dict) else holder if isinstance(holder, list) else ()
        holders.extend(item for item in items if isinstance(item, (dict, list)))
    for _ in range(rng.randint(1, 3)):
        holder = rng.choice(holders)
        if isinstance(holder, dict) and holder:
            holder[rng.choice(sorted(holder))] = _random_json(rng)
        elif isinstance(holder, list) and holder:
            holder[rng.randrange(len(holder))] = _random_json(rng)
    return json.dumps(value).encode()


def mutate(rng: random.Random, seed: bytes, mutations=MUTATIONS) -> bytes:
    data = seed
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data = rng.choice(mutations)(rng, data)
    return data


# --- running one input -------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm. A BaseException, so parsers' `except Exception` cannot swallow it."""


@contextmanager
def alarm(seconds: float):
    def ring(signum, frame):
        raise Hang(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Failure:
    target: str
    body: bytes
    error: str
    trace: str


def read_as(target: Target, fetched: Snapshot) -> Content:
    """Through the reader of the kind its source would be: a format of its own, else a site's pages."""
    return KINDS.get(target.extra.get("format", ""), KINDS["site"]).read(fetched, source=None)


def run(target: Target, body: bytes, seconds: float = HANG_SECONDS) -> Failure | str:
    """Run one input: "content", "refused" (a ContentError), or a Failure."""
    try:
        with alarm(seconds):
            result = read_as(target, snapshot(target, body))
    except ContentError:
        return "refused"
    except Hang as exc:
        return Failure(target.name, body, f"hang: {exc}", traceback.format_exc())
    except Exception as exc:
        return Failure(target.name, body, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    if not isinstance(result, Content):
        return Failure(target.name, body, f"returned {type(result).__name__}, not Content", "")
    return "content"


def check(target: Target, body: bytes, seconds: float = HANG_SECONDS) -> Failure | None:
    """None when the outcome is a Content or a ContentError in time, else the Failure."""
    outcome = run(target, body, seconds)
    return outcome if isinstance(outcome, Failure) else None


def inputs(target: Target, rng: random.Random, mutations=MUTATIONS):
    """Endless inputs for a target: each seed whole once, then mutants of random seeds."""
    seeds = [path.read_bytes() for path in target.seeds]
    yield from seeds
    yield b""
    while True:
        yield mutate(rng, rng.choice(seeds), mutations)


# --- the in-suite run --------------------------------------------------------------------

# Inputs per target: a few hundred in all; PDFs are the slowest to parse.
BUDGET = {
    "html": 80,
    "html-sniffed": 30,
    "xml": 120,
    "json": 100,
    "json-generic": 50,
    "json-fulltext": 60,
    "pdf": 100,
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_damaged_inputs_give_content_or_content_error(name):
    target = TARGETS[name]
    assert target.seeds, f"no fixture files for {name}"
    rng = random.Random(f"rulewatch-fuzz-{name}")
    started = time.monotonic()
    failures, outcomes = [], {"content": 0, "refused": 0}
    for _, body in zip(range(BUDGET[name]), inputs(target, rng), strict=False):
        outcome = run(target, body)
        if isinstance(outcome, Failure):
            failures.append(outcome)
        else:
            outcomes[outcome] += 1
    assert not failures, "\n\n".join(f"{f.error}\nbody={f.body[:300]!r}\n{f.trace}" for f in failures[:3])
    assert time.monotonic() - started < 60  # the whole run, far above its usual second or two
    # the mutants reach the parsers: some still parse, some are refused (a damaged full
    # text under a sound record is read as well as it can be, never refused)
    assert outcomes["content"], outcomes
    assert outcomes["refused"] or target.record is not None, outcomes


def test_every_whole_fixture_parses_or_is_refused_cleanly():
    for target in TARGETS.values():
        for path in target.seeds:
            assert check(target, path.read_bytes()) is None, path


def test_truncation_at_every_point_of_the_ecfr_part():
    """Every prefix of a small XML part: the exhaustive version of the random cut."""
    target = TARGETS["xml"]
    data = (FILES / "ecfr" / "part_734_2024-12-05.xml").read_bytes()
    for cut in range(0, len(data) + 1, 7):
        assert check(target, data[:cut]) is None, cut


def test_the_alarm_reports_a_hang():
    target = Target("slow", (), "text/plain")
    import tracker.reading.body as extract

    real = extract.normalize_text
    try:
        extract.normalize_text = lambda text: time.sleep(5)
        failure = check(target, b"some text", seconds=0.2)
    finally:
        extract.normalize_text = real
    assert failure is not None and failure.error.startswith("hang")


# --- crashes the fuzzing found, fixed: kept as regression tests -------------------------


@pytest.mark.parametrize("encoding", ["idna", "undefined", "punycode"])
def test_ecfr_xml_declaring_a_codec_that_cannot_replace(encoding):
    body = f'<?xml version="1.0" encoding="{encoding}"?><DIV5 N="744"><HEAD>x</HEAD></DIV5>'.encode() + b"\xff"
    failure = check(TARGETS["xml"], body)
    assert failure is None, failure.error


def test_retyped_json_stays_valid_json():
    rng = random.Random(3)
    seed = (FILES / "federal_register" / "2025-00636.json").read_bytes()
    for _ in range(20):
        json.loads(retype_json(rng, seed))


FR_RECORD = {"document_number": "2025-00636", "title": "A rule"}


@pytest.mark.parametrize(
    "field_name, value",
    [
        ("cfr_references", 5),
        ("agencies", True),
        ("regulation_id_numbers", 7),
        ("docket_ids", 1),
        ("corrections", True),
        ("agency_names", 3),
    ],
)
def test_fr_record_with_a_field_of_the_wrong_json_type(field_name, value):
    body = json.dumps({**FR_RECORD, field_name: value}).encode()
    failure = check(TARGETS["json"], body)
    assert failure is None, failure.error


# --- hostile shapes: refused with a reason ingest records, never a stalled crawl ---------


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"<html><body>" + b"<div>" * 20_000 + b"deep", "nested deeper than 512 levels; not read"),
        (b"<html><body>" + b"<i>x</i>" * 200_001, "more than 200,000 elements; not read"),
    ],
    ids=["deep", "wide"],
)
def test_pathological_html_is_a_content_error_naming_the_page(body, reason):
    with pytest.raises(ContentError) as refused:
        read_as(TARGETS["html"], snapshot(TARGETS["html"], body))
    message = str(refused.value)
    assert reason in message and TARGETS["html"].key in message
    assert "\n" not in message


def test_a_pathological_federal_register_full_text_is_a_content_error():
    fetched = snapshot(TARGETS["json-fulltext"], b"<html><body>" + b"<div>" * 20_000 + b"deep")
    with pytest.raises(ContentError, match="nested deeper than 512 levels; not read") as refused:
        read_as(TARGETS["json-fulltext"], fetched)
    assert fetched.final_url in str(refused.value)
