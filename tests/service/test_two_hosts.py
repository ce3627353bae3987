"""Issue 15 item 3: stateless application hosts on one PostgreSQL database.

Two real ``migdocs serve`` processes (gunicorn) — two hosts in miniature: separate
instance directories, one PostgreSQL database, ``storage_backend = "database"``.  Documents
of two authorities are posted to both hosts alternately (two in flight at a time), every
document is read back (PDF and XML) through the *other* host, and the numbers are checked:
one per document, each authority's gap-free from 1, all issued.  Neither host keeps a
file of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.domain.auth import create_api_key
from service.store.db import Database
from service.store.tables import ISSUED, Issuance, StoredBlob, StoredDocument
from signing.demo import build_demo
from tests.hostile.live_server import free_port
from tests.hostile.test_issuance_holds_no_lock import small_request_of
from tests.service.conftest import _postgres_database, _upgrade
from tests.service.test_api import with_new_id

DOCUMENTS = 8


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@contextmanager
def host(instance: Path, url: str, log: Path) -> Iterator[str]:
    """``migdocs serve`` on ``instance`` and the shared database; its base URL."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "MIGDOCS_INSTANCE": str(instance),
        "DATABASE_URL": url,
        "MIGDOCS_STORAGE_BACKEND": "database",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--workers", "1", "--bind", bind],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("host did not start:\n" + log.read_text())
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def call(
    base: str, path: str, key: str, body: bytes | None = None
) -> tuple[int, bytes, dict[str, str]]:
    headers = {"X-API-Key": key}
    if body is not None:
        headers["Content-Type"] = "application/xml"
    request = urllib.request.Request(f"{base}{path}", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, response.read(), dict(response.headers)


def test_two_hosts_on_one_database_serve_each_others_documents(
    demo_template: Path, tmp_path: Path, postgres_url: str
) -> None:
    first, second = tmp_path / "host-a", tmp_path / "host-b"
    shutil.copytree(demo_template, first)
    _upgrade(postgres_url)
    build_demo(first, postgres_url)  # the demo signatories, registered in PostgreSQL
    shutil.copytree(first, second)
    shutil.rmtree(second / "documents", ignore_errors=True)
    database = Database(postgres_url)
    keys: dict[str, str] = {}
    with database.transaction() as session:
        for authority in ("KZ-MVD", "BY-GPK"):
            _, keys[authority] = create_api_key(session, authority, "two hosts")
    documents = {
        "KZ-MVD": small_request_of("KZ-MVD", "BY-GPK"),
        "BY-GPK": small_request_of("BY-GPK", "KZ-MVD"),
    }

    with ExitStack() as stack:
        hosts = [
            stack.enter_context(host(first, postgres_url, tmp_path / "a.log")),
            stack.enter_context(host(second, postgres_url, tmp_path / "b.log")),
        ]

        def post(i: int) -> dict[str, Any]:
            authority = ("KZ-MVD", "BY-GPK")[i // 2 % 2]
            raw = with_new_id(documents[authority])
            status, body, _ = call(hosts[i % 2], "/api/v1/documents", keys[authority], raw)
            assert status == 201, body
            return {"via": i % 2, "authority": authority, "xml": raw, **json.loads(body)}

        with ThreadPoolExecutor(max_workers=2) as pool:
            created = list(pool.map(post, range(DOCUMENTS)))

        for doc in created:
            other = hosts[1 - doc["via"]]
            key = keys[doc["authority"]]
            _, meta, _ = call(other, doc["links"]["self"], key)
            assert json.loads(meta)["registration_number"] == doc["registration_number"]
            _, pdf, headers = call(other, doc["links"]["pdf"], key)
            assert headers["Content-Type"] == "application/pdf"
            assert hashlib.sha256(pdf).hexdigest() == doc["sha256"]
            _, xml, _ = call(other, doc["links"]["xml"], key)
            assert xml == doc["xml"]

    with database.reading() as session:
        stored = session.execute(select(StoredDocument)).scalars().all()
        journal = session.execute(select(Issuance)).scalars().all()
        blobs = set(session.execute(select(StoredBlob.key)).scalars())
    database.dispose()
    assert sorted(d.registration_number for d in stored) == sorted(
        d["registration_number"] for d in created
    )
    for authority in ("KZ-MVD", "BY-GPK"):
        seqs = sorted(d.reg_seq for d in stored if d.sender == authority)
        assert seqs == list(range(1, DOCUMENTS // 2 + 1)), (authority, seqs)
    assert {row.status for row in journal} == {ISSUED} and len(journal) == DOCUMENTS
    assert blobs == {f"{d.id}.{suffix}" for d in stored for suffix in ("pdf", "xml")}
    # Stateless hosts: neither wrote a document file of its own.
    for instance in (first, second):
        files = [p for p in (instance / "documents").rglob("*") if p.is_file()]
        assert files == [], files
