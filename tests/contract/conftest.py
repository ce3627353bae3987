"""A real ``migdocs serve`` on a random 127.0.0.1 port, on SQLite or on PostgreSQL, with one
API key of KZ-MVD: the server the contract tests (schemathesis, generated client) talk to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.domain.auth import create_api_key
from service.store.db import Database
from signing.demo import build_demo
from tests.hostile.live_server import LiveServer, _wait_until_up, free_port
from tests.service.conftest import (  # noqa: F401 - fixtures used by the tests here
    _postgres_database,
    _upgrade,
    demo_template,
)


def _serve(instance: Path, url: str, tmp_path: Path) -> Iterator[LiveServer]:
    database = Database(url)
    with database.transaction() as db:
        _, key = create_api_key(db, "KZ-MVD", "contract tests")
    database.dispose()
    port = free_port()
    env = {**os.environ, "MIGDOCS_INSTANCE": str(instance), "DATABASE_URL": url}
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
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
        server = LiveServer("127.0.0.1", port, key, log_path)
        try:
            _wait_until_up(server, process)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def contract_server(
    request: pytest.FixtureRequest,
    demo_template: Path,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> Iterator[LiveServer]:
    """The server on SQLite, then on a fresh PostgreSQL database (same demo PKI)."""
    instance = tmp_path / "instance"
    shutil.copytree(demo_template, instance, dirs_exist_ok=True)
    if request.param == "sqlite":
        yield from _serve(instance, f"sqlite:///{instance / 'migdocs.sqlite3'}", tmp_path)
        return
    for url in _postgres_database():
        _upgrade(url)
        build_demo(instance, url)
        yield from _serve(instance, url, tmp_path)
