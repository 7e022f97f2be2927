"""Reading a fetched document within its budget: the step before anything is stored.

A crawl process reads each document it fetches (tracker.crawl.warm_worker hands what it
read to the service, which stores it; a one-shot crawl stores it itself through
tracker.ingest). Nothing here touches the database, so a crawl process that only reads
never loads the database's libraries.
"""

from __future__ import annotations

import ctypes
import operator
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from storage.text import storable_text
from tracker.items import FailureReason, Snapshot
from tracker.kinds.base import Kind
from tracker.printable import describe_error
from tracker.reading.content import Block, Content
from tracker.reading.errors import ContentError
from tracker.settings import SourceConfig


class DocumentTooSlow(BaseException):
    """One document's reading ran past its budget. Raised asynchronously (a timer), so a
    BaseException: parsers catch Exception around their own work and must not swallow it."""


class ReadingBudget:
    """The seconds one document may spend being read and compared, over one or more steps.

    In the main thread a SIGALRM timer interrupts the work; in any other thread (the
    service's checks) a timer thread raises DocumentTooSlow in it. Either way the exception
    arrives between two steps of Python code: work inside one call into C runs to its end.
    """

    def __init__(self, seconds: float, left: float | None = None):
        self.seconds = seconds
        self.left = seconds if left is None else left

    @contextmanager
    def running(self) -> Iterator[None]:
        if not self.seconds:
            yield
            return
        if self.left <= 0:
            raise DocumentTooSlow
        started = time.monotonic()
        try:
            interrupt = _alarm if _alarm_usable() else _thread_interrupt
            with interrupt(self.left):
                yield
        finally:
            self.left -= time.monotonic() - started


def _alarm_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def on_alarm(signum, frame):
        raise DocumentTooSlow

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_delay = previous_interval = 0.0
    started = time.monotonic()
    try:
        previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous_handler is None else previous_handler)
        if previous_delay:  # a timer someone set before ours: it runs on
            spent = time.monotonic() - started
            signal.setitimer(signal.ITIMER_REAL, max(previous_delay - spent, 0.001), previous_interval)


@contextmanager
def _thread_interrupt(seconds: float) -> Iterator[None]:
    """DocumentTooSlow raised in this thread after `seconds`, unless the block ended first.

    CPython's PyThreadState_SetAsyncExc delivers an exception to another thread at its next
    step. One sent just as the block ended is waited for here, so that it never lands in the
    caller's code; it is never withdrawn (CPython 3.11 would then keep every thread checking
    for one at every step)."""
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"ended": False, "sent": False}

    def fire() -> None:
        with lock:
            if not state["ended"]:
                sent = ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(DocumentTooSlow))
                state["sent"] = sent == 1

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    arrived = False
    try:
        yield
    except DocumentTooSlow:
        arrived = True
        raise
    finally:
        with lock:
            state["ended"] = True
        timer.cancel()
        if state["sent"] and not arrived:
            while True:  # it arrives at the next step of this loop, and ends it
                time.sleep(0)


@dataclass(frozen=True)
class Refused:
    """A document that could not be read: why, to be recorded as its source's failure."""

    error: str
    reason: FailureReason


def read_snapshot(kind: Kind, snapshot: Snapshot, source: SourceConfig, budget: ReadingBudget) -> Content | Refused:
    """The snapshot's content as the database can store it, or why it cannot be read."""
    try:
        with budget.running():
            return storable_content(kind.read(snapshot, source))
    except ContentError as exc:
        return Refused(str(exc), exc.reason)
    except DocumentTooSlow:
        return Refused(too_slow(snapshot, budget), FailureReason.TOO_SLOW)
    except Exception as exc:
        return Refused(f"{snapshot.url} could not be read: {describe_error(exc)}", FailureReason.UNREADABLE)


def too_slow(snapshot: Snapshot, budget: ReadingBudget) -> str:
    return f"{snapshot.url} took longer than {budget.seconds:g}s to read; refused"


def storable_content(content: Content) -> Content:
    """The content with every text as the database can store it (NUL removed, lone surrogates
    replaced); the content itself when every text is storable already, as nearly every one is."""
    title = storable_text(content.title)
    blocks = tuple(_storable_block(block) for block in content.blocks)
    links = tuple(storable_text(link) for link in content.links)
    unchanged = title is content.title and all(map(operator.is_, blocks, content.blocks))
    if unchanged and all(map(operator.is_, links, content.links)):
        return content
    return Content(title=title, blocks=blocks, links=links)


def _storable_block(block: Block) -> Block:
    text, label, section = storable_text(block.text), storable_text(block.label), storable_text(block.section)
    if text is block.text and label is block.label and section is block.section:  # storable_text keeps what it can
        return block
    return replace(block, text=text, label=label, section=section)
