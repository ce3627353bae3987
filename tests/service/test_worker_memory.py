"""Issue 15 item 6: a worker's memory.  The bench (``bench/bench_service.py --memory``)
reads a worker's resident size from ``/proc``; a worker that a large document left big is
replaced after the request, and the next request is served by its successor."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lxml import etree

from bench.bench_service import (
    NS,
    as_sender,
    one_page_request,
    rss_mb,
    status_kib,
    textured_jpeg,
    the_worker,
    with_new_id,
    worker_pids,
)
from service.config import load_settings
from service.paths import SAMPLES_DIR
from service.pipeline.xmlinput import NAMESPACE
from tests.hostile.live_server import LiveServer, live_server
from tests.service.conftest import demo_template  # noqa: F401

PARENT = """
import os, subprocess, sys, time
block = bytearray(64 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1  # touch every page: resident, not just reserved
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child, other.pid, flush=True)
time.sleep(60)
"""


def test_the_bench_reads_a_workers_resident_size_and_finds_only_forked_children() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child, other = map(int, parent.stdout.readline().split())
        assert worker_pids(parent.pid) == [child]  # not the exec'd subprocess
        assert the_worker(parent.pid) == child
        assert 64 < rss_mb(parent.pid) < 64 + 200
        assert rss_mb(child) < rss_mb(parent.pid)  # a fork shares, it does not copy in
        assert status_kib(parent.pid, "VmHWM") >= status_kib(parent.pid, "VmRSS")
        assert worker_pids(other) == []
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        for pid in (child, other):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _post(server: LiveServer, raw: bytes) -> int:
    request = urllib.request.Request(
        f"{server.base}/api/v1/documents",
        data=with_new_id(raw),
        headers={"X-API-Key": server.api_key, "Content-Type": "application/xml"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        status: int = response.status
        json.loads(response.read())
    return status


def persons_with_photos(persons: int, photos: int) -> bytes:
    """The multi-page request with ``persons`` persons, the first ``photos`` with a photo at
    ``max_image_pixels`` (decoded: ~70 MB each; the layout of ~55 pages leaves Python's
    allocator fragmented — what a trim cannot give back)."""
    root = etree.fromstring((SAMPLES_DIR / "request-multipage.xml").read_bytes())
    container = root.find("m:persons", NS)
    people = list(container)
    for person in people:
        container.remove(person)
    data = base64.b64encode(textured_jpeg((6000, 4000), 1, 1_000_000, 40)).decode()
    for i in range(persons):
        person = copy.deepcopy(people[i % len(people)])
        if i < photos:
            photo = etree.SubElement(person, f"{{{NAMESPACE}}}photo", mediaType="image/jpeg")
            photo.text = data
            card = person.find("m:fingerprintCard", NS)
            if card is not None:
                card.addprevious(photo)
        container.append(person)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_growth_limit_is_a_setting_with_a_published_default(tmp_path: Path) -> None:
    settings = load_settings(environ={"MIGDOCS_INSTANCE": str(tmp_path)})
    assert settings.worker_max_rss_growth_mb == 16
    changed = load_settings(
        environ={"MIGDOCS_INSTANCE": str(tmp_path), "MIGDOCS_WORKER_MAX_RSS_GROWTH_MB": "0"}
    )
    assert changed.worker_max_rss_growth_mb == 0


def test_a_worker_a_large_document_left_big_is_replaced_and_the_next_request_served(
    demo_template: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    small = as_sender(one_page_request(), "KZ-MVD", "BY-MVD")
    large = as_sender(persons_with_photos(100, 3), "KZ-MVD", "BY-MVD")
    with live_server(
        demo_template, tmp_path, workers=1, worker_max_rss_growth_mb="1", max_requests="0"
    ) as server:
        first = the_worker(server.arbiter)
        for _ in range(3):
            assert _post(server, small) == 201
        assert the_worker(server.arbiter) == first  # small documents leave no trace
        assert _post(server, large) == 201
        deadline = time.monotonic() + 40
        while worker_pids(server.arbiter) in ([first], []) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _post(server, small) == 201
        second = the_worker(server.arbiter)
        log = server.log.read_text()
    assert second != first, log[-3000:]
    took = re.search(rf"worker {first}: a request took (\d+) MiB; (\d+) MiB after gc", log)
    assert took is not None and int(took.group(1)) > 32, log[-3000:]
    assert f"worker {first} kept {took.group(2)} MiB of a request (limit 1): recycling" in log
