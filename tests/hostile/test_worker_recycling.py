"""Workers are recycled after large jobs (issue 10 item 6): ``max_requests`` + jitter, and a
resident-size cap checked after every request — the service keeps answering meanwhile."""

from __future__ import annotations

import re
import time
from pathlib import Path

from service.config import load_settings
from service.server import MigdocsWorker, gunicorn_options, resident_mb
from tests.hostile.live_server import live_server, request_bytes, send_all
from tests.service.conftest import demo_template  # noqa: F401


def test_gunicorn_options_follow_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {"max_requests": 7, "max_requests_jitter": 3, "threads": 5, "worker_timeout": 99},
        {"MIGDOCS_INSTANCE": str(tmp_path)},
    )
    options = gunicorn_options(settings, "127.0.0.1:1", 2)
    assert options["worker_class"] is MigdocsWorker
    assert (options["max_requests"], options["max_requests_jitter"]) == (7, 3)
    assert (options["threads"], options["timeout"], options["workers"]) == (5, 99, 2)
    assert 10 < resident_mb() < 100_000


def test_a_worker_over_the_memory_cap_is_replaced_and_nothing_is_lost(
    demo_template: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with live_server(demo_template, tmp_path, workers=1, worker_max_rss_mb="1") as server:
        for _ in range(4):
            response = send_all(server, request_bytes("GET", "/healthz", {}), timeout=20)
            assert response.status == 200
            time.sleep(0.5)
        log = server.log.read_text()
    recycled = re.findall(r"worker (\d+) at \d+ MiB \(limit 1\): recycling", log)
    booted = re.findall(r"Booting worker with pid: (\d+)", log)
    assert len(recycled) >= 3, log[-3000:]
    assert len(set(booted)) >= 4, log[-3000:]  # a fresh process each time
