"""A hard wall-clock limit for one verification, enforced from outside its thread.

The :class:`~signing.verification.structure.Budget` is cooperative: our own walks check
the clock, but pyHanko's parser and its difference analysis run long loops of their own
(2,000 empty incremental updates kept its ``StandardDiffPolicy`` busy for more than ten
minutes).  Every slow path of a library cannot be found one by one, so a watchdog thread
interrupts the verifying thread when its deadline passes: CPython's
``PyThreadState_SetAsyncExc`` raises :class:`DeadlineExceeded` in that thread at its next
bytecode boundary, inside whatever Python code it is running.  Where the guarded block
ends it becomes a :class:`VerificationBudgetExceeded`, so the verifier's one handler turns
it into ``INDETERMINATE`` / ``DAMAGED_PDF`` like any other exceeded budget.

Code in C (zlib, OpenSSL) is not interrupted; those calls are bounded by the other
budgets (decompressed bytes, file size).  One watchdog thread serves the process.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .structure import time_exceeded


class DeadlineExceeded(BaseException):
    """Raised asynchronously in a verifying thread whose hard deadline passed.

    A ``BaseException``, like ``KeyboardInterrupt``: the ``except Exception`` blocks of
    pyHanko and of our own checks (which turn a broken part into a FAILED row) must not
    swallow it.  :func:`hard_deadline` turns it into :class:`VerificationBudgetExceeded`
    where the block ends."""


def _set_async_exc(thread_id: int, exception: type[BaseException] | None) -> None:
    """Schedule ``exception`` in thread ``thread_id`` (``None``: withdraw a pending one)."""
    target = ctypes.py_object(exception) if exception is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class _Watchdog:
    """Deadlines of running verifications, and the thread that enforces them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, int] = {}  # token → thread id
        self._fired: set[int] = set()
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = threading.get_ident()
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="verification-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return token

    def disarm(self, token: int) -> bool:
        """Forget ``token``; whether its deadline fired (under the lock: after this
        returns, the watchdog never fires it)."""
        with self._cond:
            self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
            return False

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # disarmed
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                thread_id = self._armed.pop(token)
                self._fired.add(token)
                _set_async_exc(thread_id, DeadlineExceeded)


_watchdog = _Watchdog()


@contextmanager
def hard_deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block (this thread) after ``seconds`` with :class:`DeadlineExceeded`.

    A deadline that fires just as the block ends is withdrawn before this returns, so
    the exception never escapes into the caller's code after the block.
    """
    token = _watchdog.arm(time.monotonic() + seconds)
    try:
        yield
    except DeadlineExceeded:
        raise time_exceeded(seconds) from None
    finally:
        if _watchdog.disarm(token):
            # fired, but perhaps not yet delivered: withdraw what is still pending
            _set_async_exc(threading.get_ident(), None)
