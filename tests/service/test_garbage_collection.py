"""Issue 15 item 1: a worker collects garbage between requests, not inside them.

A render leaves thousands of layout objects in reference cycles; CPython's collector frees
them when the young generation passes its threshold, and the request that happened to
cross it waited 10–30 ms.  The worker now collects when it falls idle
(:func:`service.server.collect_between_requests`) with a threshold above what one 1-page
or 5-page POST allocates, so such a request starting on an idle worker meets no
collection.  These tests count the collections the real POST meets.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bench.bench_service import as_sender, five_page_request, one_page_request, with_new_id
from service.server import GC_YOUNG_THRESHOLD, collect_between_requests, tune_gc
from tests.service.conftest import Env


@pytest.fixture
def worker_gc() -> Iterator[list[int]]:
    """The collector set up as in a warm worker; the generations collected meanwhile.
    The test process's own settings come back afterwards."""
    threshold = gc.get_threshold()
    collected: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collected.append(info["generation"])

    tune_gc()
    gc.callbacks.append(count)
    try:
        yield collected
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.parametrize("pages", [1, 5])
def test_a_post_on_an_idle_worker_meets_no_collection(
    sqlite_env: Env, worker_gc: list[int], pages: int
) -> None:
    source = one_page_request() if pages == 1 else five_page_request()
    raw = as_sender(source, "KZ-MVD", "BY-MVD")
    for _ in range(2):  # warm: templates, fonts, connections
        assert sqlite_env.post_xml(with_new_id(raw)).status_code == 201
    for _ in range(3):
        collect_between_requests()
        worker_gc.clear()
        young_before = gc.get_count()[0]
        response = sqlite_env.post_xml(with_new_id(raw))
        assert response.status_code == 201, response.data
        assert response.json["page_count"] == pages
        left = gc.get_count()[0] - young_before
        assert worker_gc == [], f"a {pages}-page POST met collections {worker_gc}"
        # Not by luck: the POST left a good share of the threshold behind it.
        assert left > GC_YOUNG_THRESHOLD // 10


def test_between_requests_the_cycles_of_the_last_one_are_freed(worker_gc: list[int]) -> None:
    class Node:
        partner: Node

    first, second = Node(), Node()
    first.partner, second.partner = second, first
    alive = weakref.ref(first)
    del first, second
    assert alive() is not None  # a cycle: reference counting alone does not free it
    collect_between_requests()
    assert alive() is None
    assert worker_gc and min(worker_gc) >= 1  # the young generations, at least
    assert gc.get_count()[:2] == (0, 0)
