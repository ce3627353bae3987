"""200 concurrent POSTs against 2 gunicorn workers on the real PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.domain.auth import create_api_key
from service.paths import SAMPLES_DIR
from service.store.db import Database
from signing.demo import build_demo
from tests.service.conftest import _postgres_database, _upgrade
from tests.service.test_api import with_new_id

POSTS = 200
YEAR = datetime.now(UTC).year


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, key: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"X-API-Key": key, "Content-Type": "application/xml"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def server(demo_template: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    for url in _postgres_database():
        instance = tmp_path / "instance"
        import shutil

        shutil.copytree(demo_template, instance)
        _upgrade(url)
        build_demo(instance, url)
        database = Database(url)
        keys = {}
        with database.transaction() as session:
            for authority in ("KZ-MVD", "BY-MVD"):
                _, keys[authority] = create_api_key(session, authority, "load test")
        database.dispose()
        port = _free_port()
        env = {**os.environ, "MIGDOCS_INSTANCE": str(instance), "DATABASE_URL": url}
        log = (tmp_path / "server.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service",
                "serve",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        "server did not start:\n" + (tmp_path / "server.log").read_text()
                    )
                time.sleep(0.2)
            yield base, keys
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def test_200_concurrent_posts_get_distinct_gap_free_numbers(
    server: tuple[str, dict[str, str]],
) -> None:
    base, keys = server
    samples = {
        "KZ-MVD": (SAMPLES_DIR / "request-photo.xml").read_bytes(),
        "BY-MVD": (SAMPLES_DIR / "response-photo.xml").read_bytes(),
    }
    # The responses reply to KZ-MVD-YEAR-000001: that request (its case) must exist first.
    status, _ = _call("POST", f"{base}/api/v1/documents", keys["KZ-MVD"], samples["KZ-MVD"])
    assert status == 201
    first = {"KZ-MVD": 2, "BY-MVD": 1}
    jobs = [("KZ-MVD" if i % 2 else "BY-MVD") for i in range(POSTS)]

    def post(authority: str) -> tuple[str, int, dict[str, object]]:
        status, body = _call(
            "POST", f"{base}/api/v1/documents", keys[authority], with_new_id(samples[authority])
        )
        return authority, status, json.loads(body)

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(post, jobs))

    assert [status for _, status, _ in results] == [201] * POSTS, [
        body for _, status, body in results if status != 201
    ][:3]
    for authority in ("KZ-MVD", "BY-MVD"):
        numbers = sorted(
            str(body["registration_number"]) for a, _, body in results if a == authority
        )
        start = first[authority]
        expected = [f"{authority}-{YEAR}-{i:06d}" for i in range(start, start + POSTS // 2)]
        assert numbers == expected
    for authority, _, body in results:
        links = body["links"]
        assert isinstance(links, dict)
        status, pdf = _call("GET", base + links["pdf"], keys[authority])
        assert status == 200 and pdf.startswith(b"%PDF-")
