"""The per-document budget, in the main thread (SIGALRM) and in any other (a timer thread), and
content made storable."""

import sys
import threading
import time

import pytest

from tracker.outcomes import DocumentTooSlow, ReadingBudget, storable_content
from tracker.reading.content import Block, Content


def spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # pure Python work, interruptible between two steps
        pass


def in_a_thread(work):
    outcome: list = []

    def run():
        try:
            work()
            outcome.append("done")
        except DocumentTooSlow:
            outcome.append("too slow")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return outcome


def test_work_past_its_budget_is_interrupted_in_the_main_thread():
    budget = ReadingBudget(0.2)
    started = time.monotonic()
    with pytest.raises(DocumentTooSlow), budget.running():
        spin(5)
    assert time.monotonic() - started < 2
    assert budget.left <= 0


def test_work_past_its_budget_is_interrupted_in_another_thread():
    def work():
        with ReadingBudget(0.2).running():
            spin(5)

    started = time.monotonic()
    assert in_a_thread(work) == ["too slow"]
    assert time.monotonic() - started < 2


def test_work_done_in_time_leaves_nothing_pending_in_its_thread():
    def work():
        budget = ReadingBudget(0.1)
        with budget.running():
            spin(0.05)
        spin(0.3)  # past the budget's end: nothing may land here
        with budget.running():  # the seconds left carry over
            spin(0.01)

    assert in_a_thread(work) == ["done"]


def test_the_seconds_left_carry_over_between_steps():
    def work():
        budget = ReadingBudget(0.3)
        with budget.running():
            spin(0.2)
        with budget.running():
            spin(5)

    started = time.monotonic()
    assert in_a_thread(work) == ["too slow"]
    assert time.monotonic() - started < 1


def test_a_budget_spent_refuses_the_next_step_at_once():
    budget = ReadingBudget(1.0, left=0)
    with pytest.raises(DocumentTooSlow), budget.running():
        pytest.fail("a step with no seconds left must not run")


def test_after_an_interrupt_traced_code_still_runs():
    """An interrupt that arrived is never withdrawn afterwards: on CPython 3.11 withdrawing
    one leaves every thread checking for it at every step, and code run under a trace
    function (coverage, debuggers, the line counts of test_properties) then never returns."""

    def work():
        with ReadingBudget(0.1).running():
            spin(5)

    assert in_a_thread(work) == ["too slow"]
    lines = []

    def traced():
        def trace(frame, event, arg):
            lines.append(event)
            return trace

        sys.settrace(trace)
        try:
            sorted(str(n) for n in range(100))
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=traced, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive() and lines


def test_storable_content_changes_only_what_a_database_refuses():
    clean = Content("Title", (Block("a", label="(a)", section="§ 1(a)"), Block("b", kind="heading")), ("https://x/",))
    assert storable_content(clean) is clean  # nothing to change: nothing copied
    dirty = Content(
        "Ti\x00tle",
        (Block("a", label="(a)", section="§ 1(a)"), Block("b\ud800", label="\x00(b)", volatile=True)),
        ("https://x/\x00",),
    )
    stored = storable_content(dirty)
    assert stored == Content(
        "Title",
        (Block("a", label="(a)", section="§ 1(a)"), Block("b\ufffd", label="(b)", volatile=True)),
        ("https://x/",),
    )
    assert stored.blocks[0] is dirty.blocks[0]
