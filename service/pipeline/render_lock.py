"""The one WeasyPrint lock of a process, and how much rendering the process has in hand.

WeasyPrint's layout is not known to be thread-safe, so every render of a process
(documents, lists, verification reports) takes this lock, and the service scales with
worker processes instead of threads.  A request that reaches a worker with a render in
hand waits here for it, up to a minute behind the largest document.  The server therefore
watches what is in hand (:func:`observe`, :func:`in_hand_since`) and sends new connections to a
freer worker (``service.worker_board``).

Work is in hand from :func:`announced` — a document POST announces itself before it
reserves its number, since its own render will queue behind any other — or else from
taking the lock (:func:`rendering`) until the render ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_lock = threading.Lock()
"""The render lock itself."""
_book = threading.Lock()
"""Guards :data:`_started`."""
_started: list[float] = []
"""When each piece of work in hand was announced (``time.monotonic``)."""
_announcing = threading.local()
_observer: Callable[[], None] | None = None


def observe(observer: Callable[[], None] | None) -> None:
    """Call ``observer()`` whenever work comes into or leaves this process's hands (from the
    thread doing the work; it should only wake someone); ``None`` stops telling."""
    global _observer
    _observer = observer


def in_hand_since() -> float | None:
    """Since when this process has had its oldest rendering work in hand
    (``time.monotonic``); ``None`` when it has none."""
    with _book:
        return min(_started, default=None)


def _tell() -> None:
    observer = _observer
    if observer is None:
        return
    try:
        observer()
    except Exception:  # an observer must never cost a render
        log.exception("render observer failed")


@contextmanager
def announced() -> Iterator[None]:
    """Count the block as rendering work in hand (once per thread, however nested)."""
    if getattr(_announcing, "active", False):
        yield
        return
    stamp = time.monotonic()
    with _book:
        _started.append(stamp)
    _announcing.active = True
    _tell()
    try:
        yield
    finally:
        _announcing.active = False
        with _book:
            _started.remove(stamp)
        _tell()


@contextmanager
def rendering() -> Iterator[None]:
    """Hold the process's render lock for the duration of the block."""
    with announced(), _lock:
        yield
