"""The hard deadline of a verification: a watchdog thread interrupts Python code that
never checks the clock (pyHanko's own loops), through ``except Exception`` blocks, and
never fires into code after the guarded block."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from signing.errors import VerificationBudgetExceeded
from signing.verification.deadline import hard_deadline


def _spin_forever_swallowing_errors() -> None:
    while True:
        # as pyHanko's and our own checks do; must not swallow the interruption
        with contextlib.suppress(Exception):
            sum(range(1000))


def test_a_loop_that_never_checks_the_clock_is_interrupted() -> None:
    started = time.monotonic()
    with pytest.raises(VerificationBudgetExceeded) as caught, hard_deadline(0.3):
        _spin_forever_swallowing_errors()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert caught.value.reason == "time"
    assert "0.3 с" in caught.value.message


def test_a_block_that_ends_in_time_leaves_nothing_behind() -> None:
    for _ in range(200):  # deadlines that fire around the end of the block
        try:
            with hard_deadline(0.001):
                sum(range(2000))
        except VerificationBudgetExceeded:
            pass
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # no stray interruption arrives afterwards
        sum(range(1000))


def test_each_thread_has_its_own_deadline() -> None:
    outcomes: dict[str, str] = {}

    def run(name: str, seconds: float, work: float) -> None:
        try:
            with hard_deadline(seconds):
                end = time.monotonic() + work
                while time.monotonic() < end:
                    sum(range(500))
            outcomes[name] = "finished"
        except VerificationBudgetExceeded:
            outcomes[name] = "interrupted"

    threads = [
        threading.Thread(target=run, args=("slow", 0.2, 5.0)),
        threading.Thread(target=run, args=("quick", 3.0, 0.4)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes == {"slow": "interrupted", "quick": "finished"}
