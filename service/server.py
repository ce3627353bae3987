"""``migdocs serve``: gunicorn set up so that slow or odd clients cannot stall the service.

- **Threaded workers** (gunicorn ``gthread``): a connection waits in a thread, not in a
  whole worker process, so clients that send slowly hold threads while renders go on.
- **Read deadlines** (:class:`DeadlineSocket`): the request line and headers must arrive
  within ``header_timeout`` seconds and the body within ``body_timeout`` seconds — a total,
  not a per-``recv`` timeout, so one byte a second does not keep a thread for ever.  A late
  client gets ``408`` (JSON) and the connection is closed.
- **Least busy worker first** (:mod:`service.worker_board`): every worker accepts
  connections even while one of its threads renders, and a POST that lands there waits
  for that render (one render at a time per process); so a worker stops accepting while
  another worker is freer (idle over busy over rendering).
- **JSON errors from gunicorn itself** (:meth:`MigdocsWorker.handle_error`): a malformed
  request, too long a request line or too many headers answer JSON like the app does.
- **Garbage collection tuned for rendering** (:func:`tune_gc`): what the app loaded
  before the fork, and what a worker's first requests loaded, is frozen out of the
  collector's scans, and the youngest generation is collected every
  :data:`GC_YOUNG_THRESHOLD` allocations instead of 700 — a render allocates millions of
  short-lived layout objects, and the default threshold scanned them over and over
  (a 1-page render ~10 % faster, ``bench/profile_stages.py``).  **Collected between
  requests** (:func:`collect_between_requests`): when a worker falls idle, after the
  response has gone out, it frees the cyclic garbage its requests left (a render leaves
  thousands of layout objects in cycles), so a 1-page or 5-page request that starts on an
  idle worker meets no collection (10–30 ms each) on its way.
- **Memory** (:func:`check_memory`, when the worker falls idle): requests that left the
  worker :data:`TRIM_GROWTH_MB` larger than they found it are followed by a garbage
  collection and ``malloc_trim`` (glibc keeps a large document's freed pages otherwise:
  the worker stayed ~80 % above its baseline after the largest accepted document).
  **Recycling**: ``max_requests`` + ``max_requests_jitter``; a worker above
  ``worker_max_rss_mb``, or one that a request left more than
  ``worker_max_rss_growth_mb`` larger even after the trim, finishes its requests and is
  replaced.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import _DEFER, ThreadWorker

from service.config import Settings, load_settings
from service.errors import RequestTimeout
from service.pipeline import render_lock
from service.worker_board import BUSY, CLOSED, IDLE, RENDERING, SLOT_ATTRIBUTE, WorkerBoard

log = logging.getLogger("migdocs.server")

FIRST_BYTES_WAIT = 0.1
"""Seconds a thread waits for a new connection's first bytes before the poller takes it."""
SEND_TIMEOUT = 120.0
"""Seconds one ``sendall`` of a response may take (a reader that stalls is dropped)."""
HEARTBEAT_DIR = "/dev/shm"
"""Where workers touch their heartbeat file (gunicorn's advice: a memory file system; on a
disk one, each touch of the worker's loop can wait for the disk)."""


@dataclass(frozen=True)
class ReadLimits:
    header_timeout: float
    body_timeout: float
    max_rss_mb: int
    max_rss_growth_mb: int = 16


_limits = ReadLimits(header_timeout=10, body_timeout=60, max_rss_mb=1024)
"""Set by :func:`serve` in the master before the workers are forked."""
RENDER_LOOK_SECONDS = 0.25
"""How often a worker with rendering in hand looks at the board (it grows long silently)."""
_board: WorkerBoard | None = None
"""Which workers are free (shared memory); made by :func:`serve` before the fork."""


class DeadlineSocket:
    """A client socket whose reads share one deadline (armed per request phase).

    Everything but ``recv``/``recv_into``/``sendall`` goes to the real socket, so gunicorn
    (selectors, ``setblocking``, ``close``) treats it as the socket itself.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._deadline: float | None = None
        self._phase = ""
        self.expired = False

    def arm(self, seconds: float, phase: str) -> None:
        self._deadline = time.monotonic() + seconds
        self._phase = phase
        self.expired = False

    def disarm(self) -> None:
        self._deadline = None

    def _timeout(self) -> RequestTimeout:
        self.expired = True
        seconds = _limits.header_timeout if self._phase == "headers" else _limits.body_timeout
        return RequestTimeout(
            f"the request {self._phase} did not arrive within {seconds:g} s; send the whole "
            "request at once (or through a buffering proxy)"
        )

    def _arm_socket(self) -> None:
        if self._deadline is None:
            return
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        self._sock.settimeout(remaining)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._arm_socket()
        try:
            return self._sock.recv(bufsize, flags)
        except TimeoutError:
            if self._deadline is None:
                raise
            raise self._timeout() from None

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm_socket()
        try:
            return self._sock.recv_into(buffer, nbytes, flags)
        except TimeoutError:
            if self._deadline is None:
                raise
            raise self._timeout() from None

    def sendall(self, data: Any, flags: int = 0) -> None:
        if self._sock.gettimeout() != 0.0:
            self._sock.settimeout(SEND_TIMEOUT)
        self._sock.sendall(data, flags)

    @property
    def raw(self) -> socket.socket:
        return self._sock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


_STATUS = (
    (http_errors.LimitRequestLine, 414, "URI Too Long", "uri_too_long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large", "headers_too_large"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented", "unsupported_encoding"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed", "expectation_failed"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden", "forbidden"),
    (http_errors.ParseException, 400, "Bad Request", "bad_request"),
    (RequestTimeout, 408, "Request Timeout", "request_timeout"),
)


def error_bytes(exc: BaseException) -> tuple[int, bytes]:
    """The JSON answer (status, whole HTTP response) to an error gunicorn itself hit."""
    status, reason, code, message = 500, "Internal Server Error", "internal_error", ""
    for cls, s, r, c in _STATUS:
        if isinstance(exc, cls):
            status, reason, code = s, r, c
            message = str(exc)[:300]
            break
    body = json.dumps(
        {"error": code, "message": message or reason.lower(), "details": []},
        ensure_ascii=False,
    ).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return status, head.encode("latin-1") + body


GC_YOUNG_THRESHOLD = 40_000
"""Allocations between collections of the youngest generation (CPython's default: 700).
Measured on a 1-page render in a worker-sized heap: 700 → 142 ms, 5,000 → 133 ms,
20,000 → 130 ms, and with the warm heap frozen 127 ms.  A 1-page POST leaves ~8,400
objects in the young generation and a 5-page POST ~24,000 (``tests/service/
test_garbage_collection.py``): above both, so that neither meets an automatic collection
when it starts on an idle worker (:func:`collect_between_requests`).  Under continuous
load the collector still runs every 40,000; that garbage is a few MiB."""


def collect_between_requests() -> None:
    """Collect what the last requests left, now that no request is waiting for this
    thread: the young generations, and all of them when the oldest is due.

    A collection costs in proportion to what it frees, ~1 ms per 1,500 objects, and a
    render leaves thousands in cycles (styles, boxes); inside a request it added 10–30 ms
    to whichever request crossed the threshold.  Called when the worker falls idle, after
    the response has been sent."""
    oldest_due = gc.get_count()[2] >= gc.get_threshold()[2]
    gc.collect(2 if oldest_due else 1)


def tune_gc() -> None:
    """Freeze what is alive now (loaded modules, caches, fonts) out of the collector's
    scans, and collect the youngest generation less often (:data:`GC_YOUNG_THRESHOLD`).

    Called in the arbiter after the app is loaded (the fork then also keeps those pages
    shared) and in a worker once its first requests have loaded templates and fonts."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


class MigdocsWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker with read deadlines, JSON errors and a memory check
    when it falls idle."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy = threading.Lock()
        self._in_flight = 0
        self._idle_size = 0.0
        self._warm = False
        self._active = 0
        """Connections in the hands of a thread (main thread only)."""

    # ----- least busy worker first (see service.worker_board) ----------------------------
    # States are published and compared on the main thread only; a thread that takes or
    # finishes rendering work just wakes the main thread.

    def init_process(self) -> None:
        render_lock.observe(lambda: self.method_queue.defer(self._refresh_accepting))
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        self._active += 1
        super().enqueue_req(conn)
        self._refresh_accepting()

    def finish_request(self, conn: Any, fs: Any) -> None:
        self._active -= 1
        super().finish_request(conn, fs)
        self._refresh_accepting()

    def _refresh_accepting(self) -> None:
        self.set_accept_enabled(self.alive and self.nr_conns < self.worker_connections)

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's switch (connection limit, shutdown), plus: not while another worker
        is freer than this one."""
        if _board is not None:
            slot = getattr(self, SLOT_ATTRIBUTE, None)
            since = render_lock.in_hand_since()
            if not enabled:
                _board.publish(slot, CLOSED)
            elif since is not None:
                _board.publish(slot, RENDERING, since)
            else:
                _board.publish(slot, BUSY if self._active else IDLE)
            enabled = enabled and not _board.another_is_freer(slot, time.monotonic())
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # The other workers' states change without telling this one, and a render grows
        # long without an event: look at every turn, and often while rendering.
        if self.alive:
            self._refresh_accepting()
            if render_lock.in_hand_since() is not None:
                timeout = min(timeout, RENDER_LOOK_SECONDS)
        super().wait_for_and_dispatch_events(timeout)

    def handle(self, conn: Any) -> Any:
        # gunicorn waits up to 5 s in a thread for a new connection's first bytes; a dozen
        # idle connections would hold every thread.  Wait briefly, then leave it to the
        # poller (which closes it after ``keepalive`` seconds of silence).
        if not conn.initialized and not conn.wait_for_data(FIRST_BYTES_WAIT):
            return _DEFER
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock)
        conn.sock.arm(_limits.header_timeout, "headers")
        try:
            return super().handle(conn)
        finally:
            conn.sock.disarm()

    def handle_request(self, req: Any, conn: Any) -> Any:
        conn.sock.arm(_limits.body_timeout, "body")
        with self._busy:
            if self._in_flight == 0:
                self._idle_size = resident_mb()
            self._in_flight += 1
        try:
            return super().handle_request(req, conn)
        finally:
            conn.sock.disarm()
            with self._busy:
                self._in_flight -= 1
                idle, before = self._in_flight == 0, self._idle_size
            # Only when the worker falls idle: while another thread renders a large
            # document the process grows for reasons of its own, and a collection of its
            # heap (or malloc_trim, which locks the allocator) would stall that render and
            # every request of the worker for seconds.  Here, not in gunicorn's
            # post_request hook: that runs while the request's environ (and the body
            # Flask read into it) is still alive.
            if idle:
                collect_between_requests()
                check_memory(self, before)
                if not self._warm and getattr(self, "nr", 0) >= FRESH_REQUESTS:
                    self._warm = True
                    tune_gc()

    def _keepalive_after(self, conn: Any, keepalive: Any) -> bool:
        if getattr(conn.sock, "expired", False):
            return False  # the rest of a late body is not worth waiting for
        return bool(super()._keepalive_after(conn, keepalive))

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, data = error_bytes(exc)
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from %s: %s", (addr or ("",))[0], exc)
        raw = client.raw if isinstance(client, DeadlineSocket) else client
        try:
            raw.settimeout(2.0)
            raw.sendall(data)
        except OSError:
            self.log.debug("Failed to send error message.")


def resident_mb() -> float:
    """This process's resident set size now (MiB); peak RSS where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


TRIM_GROWTH_MB = 32.0
"""A request that left the worker this much (MiB) above its size when the request began
makes the worker collect garbage and trim its heap.  Small requests move the resident
size by a few MiB at most; the collection and the trim cost tens of milliseconds and the
pages they return fault in again, so they follow only a request that took much more."""


RECYCLE_GROWTH_MB = 64.0
"""Only a busy period that grew the worker this much (a large document) can get it
recycled for what it kept.  Ordinary requests grow a worker by up to ~40 MiB while caches,
fonts and pools fill; recycling it for that replaced a warm worker with a cold one whose
requests then queued behind the other worker's long render."""


FRESH_REQUESTS = 3
"""A fresh worker's first requests load what it needs lazily (~30 MiB: templates, fonts,
connections); they are trimmed after but never judged by their growth, or a worker
whose first request loads more than the limit would be replaced over and over."""


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (``None`` elsewhere, e.g. musl or macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()


def give_back_memory() -> float:
    """Collect cyclic garbage, hand the C heap's free pages back; resident MiB after.

    Python returns a large request's freed buffers (a 16 MB body, decoded photos, layout
    boxes) to glibc, which keeps the pages of its heaps (one arena per thread) for reuse;
    ``malloc_trim(0)`` gives every free page back to the system.
    """
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    return resident_mb()


def check_memory(worker: Any, before: float) -> None:
    """After a request whose objects are gone: give back what a large one took, and retire
    a worker that stays too big.

    Recycled (finishes its current requests, a fresh process takes its place) when it is
    above ``worker_max_rss_mb``, or when a large request (more than
    :data:`RECYCLE_GROWTH_MB`) left it more than ``worker_max_rss_growth_mb`` above its
    size when the request began even after :func:`give_back_memory` — what remains is
    Python's allocator holding 1 MiB arenas that a few surviving objects keep
    (fragmentation), which only a new process undoes.
    """
    try:
        if not worker.alive:
            return
        size = resident_mb()
        grown = size - before
        if grown > TRIM_GROWTH_MB:
            size = give_back_memory()
            worker.log.info(
                "worker %s: a request took %.0f MiB; %.0f MiB after gc and malloc_trim",
                worker.pid,
                grown,
                size - before,
            )
            limit = _limits.max_rss_growth_mb
            large = grown > RECYCLE_GROWTH_MB
            if large and 0 < limit < size - before and getattr(worker, "nr", 0) > FRESH_REQUESTS:
                worker.log.info(
                    "worker %s kept %.0f MiB of a request (limit %d): recycling after its "
                    "current requests",
                    worker.pid,
                    size - before,
                    limit,
                )
                worker.handle_exit(None, None)
                return
        if 0 < _limits.max_rss_mb < size:
            worker.log.info(
                "worker %s at %.0f MiB (limit %d): recycling after its current requests",
                worker.pid,
                size,
                _limits.max_rss_mb,
            )
            worker.handle_exit(None, None)
    except Exception:  # a memory check must never cost a response
        worker.log.exception("memory check failed")


def _assign_slot(server: Any, worker: Any) -> None:
    """gunicorn's ``pre_fork`` hook (master): the new worker's slot on the board."""
    if _board is not None:
        _board.assign(worker, server.WORKERS.values())


def _release_slot(_server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook (master): an exited worker is not free, however it died."""
    if _board is not None:
        _board.release(worker)


def gunicorn_options(settings: Settings, bind: str, workers: int) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": MigdocsWorker,
        "threads": settings.threads,
        "timeout": settings.worker_timeout,
        "graceful_timeout": settings.graceful_timeout,
        "keepalive": settings.keepalive,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "max_requests": settings.max_requests,
        "max_requests_jitter": settings.max_requests_jitter,
        "preload_app": True,
        "pre_fork": _assign_slot,
        "child_exit": _release_slot,
        # the app logs every request itself (one JSON line); gunicorn's access log would
        # only build its atoms and print an empty line per request
        "accesslog": None,
        "worker_tmp_dir": HEARTBEAT_DIR
        if os.path.isdir(HEARTBEAT_DIR) and os.access(HEARTBEAT_DIR, os.W_OK)
        else None,
    }


class MigdocsServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service.wsgi import app

        tune_gc()
        return app


def serve(bind: str, workers: int) -> None:
    """Run gunicorn in this process until it is stopped."""
    global _limits, _board
    settings = load_settings()
    _limits = ReadLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_rss_mb=settings.worker_max_rss_mb,
        max_rss_growth_mb=settings.worker_max_rss_growth_mb,
    )
    _board = WorkerBoard(workers)
    MigdocsServer(gunicorn_options(settings, bind, workers)).run()
