"""A worker that renders takes no new connection while another worker is freer.

Real gunicorn (``migdocs serve``, 2 threaded workers) on SQLite.  A threaded worker
accepts connections while one of its threads renders, and a POST that lands there waits
for that render (one render at a time per process): CI saw a 1-page POST take 11.8 s
behind the largest document while the other worker was idle.  Two large POSTs sent
together must render in the two workers, not one after the other in one.  Each response's
``X-Request-Id`` is matched to the worker pid of the server's request log.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import func, select

from service.store.db import Database
from service.store.tables import ISSUING, Issuance
from service.worker_board import (
    BUSY,
    CLOSED,
    IDLE,
    RENDER_AGE_STEPS,
    RENDERING,
    SLOT_ATTRIBUTE,
    WorkerBoard,
    rank,
)
from tests.hostile.test_issuance_holds_no_lock import (
    SMALL,
    Server,
    _issuing_since,
    largest_request,
    running_server,
)
from tests.service.test_api import with_new_id

MIN_PROBES = 8
"""Probes that must have begun and ended inside the render for a test to judge it."""


def _get(server: Server, path: str) -> tuple[int, str, float]:
    """GET ``path``: status, request id and seconds."""
    started = time.perf_counter()
    request = urllib.request.Request(
        server.base + path, headers={"X-API-Key": server.keys["KZ-MVD"]}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        return response.status, response.headers["X-Request-Id"], time.perf_counter() - started


def _post(server: Server) -> tuple[int, str, float]:
    """A 1-page POST of KZ-MVD: status, request id and seconds."""
    started = time.perf_counter()
    request = urllib.request.Request(
        server.base + "/api/v1/documents",
        data=with_new_id(SMALL),
        method="POST",
        headers={"X-API-Key": server.keys["KZ-MVD"], "Content-Type": "application/xml"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        return response.status, response.headers["X-Request-Id"], time.perf_counter() - started


def _served_by(server: Server) -> dict[str, int]:
    """Request id → pid of the worker that answered it (the app's request log)."""
    lines = (line for line in server.log_path.read_text().splitlines() if line.startswith("{"))
    return {entry["request_id"]: entry["pid"] for entry in map(json.loads, lines)}


def _probes_while(
    busy: Callable[[], bool], probe: Callable[[int], tuple[int, str, float]], limit: int
) -> list[tuple[int, str, float]]:
    """Up to ``limit`` probes from 4 threads, each kept only if ``busy()`` held before it
    started and after it ended.

    Counted one by one, not in rounds: on a fast machine the largest document leaves a
    window of about a second, and a round of 16 probes that straddled its end was
    dropped whole — one CI run kept none ("no round of probes while the document
    rendered")."""
    answers: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    issued = itertools.count()

    def prober() -> None:
        while (index := next(issued)) < limit and busy():
            result = probe(index)
            if busy():
                with lock:
                    answers.append(result)

    threads = [threading.Thread(target=prober) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_a_rendering_worker_leaves_new_connections_to_the_free_one(
    demo_template: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'instance' / 'migdocs.sqlite3'}"
    with running_server(demo_template, tmp_path, url) as server:
        with ThreadPoolExecutor(max_workers=2) as pool:  # warm both workers
            assert [s for s, _, _ in pool.map(lambda _: _post(server), range(4))] == [201] * 4
        large: list[int] = []
        rendering = threading.Thread(
            target=lambda: large.append(server.post("BY-GPK", largest_request())[0])
        )
        database = Database(url)
        try:
            rendering.start()
            deadline = time.monotonic() + 30
            while not _issuing_since(database, "BY-GPK"):
                assert time.monotonic() < deadline, "the large document never got a number"
                time.sleep(0.05)
            # In hand for longer than a 1-page document is even on a busy machine: the
            # worker ranks below one rendering a 1-page POST.
            time.sleep(RENDER_AGE_STEPS[1] + 0.5)

            def probe(index: int) -> tuple[int, str, float]:
                return _post(server) if index % 8 == 0 else _get(server, "/healthz")

            answers = _probes_while(lambda: _issuing_since(database, "BY-GPK"), probe, 160)
        finally:
            rendering.join(timeout=180)
            database.dispose()
        assert large == [201]
        assert len(answers) >= MIN_PROBES, f"{len(answers)} probes while the document rendered"
        assert {status for status, _, _ in answers} <= {200, 201}, answers
        pids = _served_by(server)
        large_pid = _pid_of_the_longest_post(server)
        on_the_rendering_worker = [rid for _, rid, _ in answers if pids[rid] == large_pid]
        assert on_the_rendering_worker == [], (
            f"{len(on_the_rendering_worker)} of {len(answers)} requests went to the worker "
            f"rendering the large document"
        )
        slow = sorted(round(seconds, 2) for _, _, seconds in answers if seconds > 2.0)
        assert slow == [], slow


def _pid_of_the_longest_post(server: Server) -> int:
    """The worker that rendered the large document (the longest request of the log)."""
    lines = (line for line in server.log_path.read_text().splitlines() if line.startswith("{"))
    posts = [entry for entry in map(json.loads, lines) if entry["method"] == "POST"]
    return int(max(posts, key=lambda entry: entry["duration_ms"])["pid"])


def test_two_large_posts_render_in_both_workers_which_still_answer(
    demo_template: Path, tmp_path: Path
) -> None:
    """The second large POST goes to the idle worker, not behind the first; with both
    rendering, both take connections (a health check must not wait in the listen queue
    for a render to end)."""
    url = f"sqlite:///{tmp_path / 'instance' / 'migdocs.sqlite3'}"
    large = largest_request()
    with running_server(demo_template, tmp_path, url) as server:
        with ThreadPoolExecutor(max_workers=2) as pool:  # warm both workers
            assert [s for s, _, _ in pool.map(lambda _: _post(server), range(4))] == [201] * 4
        time.sleep(0.5)  # both workers have told the board they are idle again
        statuses: list[int] = []
        renders = [
            threading.Thread(target=lambda raw=raw: statuses.append(server.post("BY-GPK", raw)[0]))
            for raw in (large, with_new_id(large))
        ]
        database = Database(url)
        try:
            for render in renders:
                render.start()
            deadline = time.monotonic() + 30
            while _issuing_count(database) < 2:
                assert time.monotonic() < deadline, "the two documents never both rendered"
                time.sleep(0.05)
            time.sleep(0.5)
            answers = _probes_while(
                lambda: _issuing_count(database) == 2, lambda _: _get(server, "/healthz"), 64
            )
        finally:
            for render in renders:
                render.join(timeout=240)
            database.dispose()
        assert statuses == [201, 201]
        assert len(answers) >= MIN_PROBES, f"{len(answers)} probes while both rendered"
        slow = sorted(round(seconds, 2) for _, _, seconds in answers if seconds > 2.0)
        assert slow == [], slow
        assert len({_served_by(server)[rid] for _, rid, _ in answers}) == 2


def _issuing_count(database: Database) -> int:
    with database.reading() as session:
        return int(
            session.execute(
                select(func.count()).select_from(Issuance).where(Issuance.status == ISSUING)
            ).scalar_one()
        )


# ----- the board itself ----------------------------------------------------------------------


def test_the_board_gives_each_live_worker_its_own_slot_and_closes_it_on_exit() -> None:
    board = WorkerBoard(workers=2)
    first, second, third = (SimpleNamespace() for _ in range(3))
    board.assign(first, [])
    board.assign(second, [first])
    one, two = getattr(first, SLOT_ATTRIBUTE), getattr(second, SLOT_ATTRIBUTE)
    assert None not in (one, two) and one != two
    now = time.monotonic()
    assert not board.another_is_freer(one, now)  # a new worker counts as closed

    board.publish(one, IDLE)
    board.publish(two, RENDERING, now)
    assert board.another_is_freer(two, now)
    assert not board.another_is_freer(one, now)  # only itself is idle
    board.publish(two, IDLE)
    assert not board.another_is_freer(one, now)  # as free: both accept
    board.publish(two, BUSY)
    # Killed while idle (kill -9 runs no code of the worker): the master closes its slot.
    board.release(first)
    assert not board.another_is_freer(two, now)
    # Its replacement gets a slot no live worker holds, closed until it says otherwise.
    board.assign(third, [second])
    assert getattr(third, SLOT_ATTRIBUTE) not in (None, two)
    assert not board.another_is_freer(two, now)


def test_two_rendering_workers_never_both_step_aside() -> None:
    """Both publish when they began; each ranks both at one ``now``."""
    board = WorkerBoard(workers=2)
    first, second = SimpleNamespace(), SimpleNamespace()
    board.assign(first, [])
    board.assign(second, [first])
    one, two = getattr(first, SLOT_ATTRIBUTE), getattr(second, SLOT_ATTRIBUTE)
    for started_apart in (0.0, 0.05, 0.5, 2.5, 9.0, 25.0):
        for now in (100.5, 101.5, 103.5, 110.5, 130.5, 200.0):
            board.publish(one, RENDERING, 100.0)
            board.publish(two, RENDERING, 100.0 + started_apart)
            aside = [board.another_is_freer(slot, now) for slot in (one, two)]
            assert aside != [True, True], (started_apart, now)
            # the one on its document longest steps aside, if their ages rank apart
            assert not aside[1], (started_apart, now)


def test_short_renders_are_alike_and_the_longest_render_ranks_lowest() -> None:
    now = 1000.0
    short, long = (rank(RENDERING, now - age, now) for age in (0.0, RENDER_AGE_STEPS[0]))
    assert short == long
    ages = [1.5, 5.0, 20.0, 3600.0]
    ranks = [rank(RENDERING, now - age, now) for age in ages]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert rank(CLOSED, 0.0, now) < min(ranks) and short < rank(BUSY, 0.0, now)
    assert rank(BUSY, 0.0, now) < rank(IDLE, 0.0, now)


def test_a_worker_without_a_slot_never_steps_aside() -> None:
    board = WorkerBoard(workers=1)  # room for 4
    workers = [SimpleNamespace() for _ in range(5)]
    for index, worker in enumerate(workers):
        board.assign(worker, workers[:index])
        board.publish(getattr(worker, SLOT_ATTRIBUTE), IDLE)
    assert getattr(workers[-1], SLOT_ATTRIBUTE) is None
    assert not board.another_is_freer(None, time.monotonic())
    board.publish(getattr(workers[0], SLOT_ATTRIBUTE), BUSY)
    assert board.another_is_freer(getattr(workers[0], SLOT_ATTRIBUTE), time.monotonic())
