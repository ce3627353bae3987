"""Issue 10 item 5: issuance holds no lock while rendering, and no number is issued twice.

Real gunicorn (``migdocs serve``, 2 workers), real rendering and signing, SQLite and the
real PostgreSQL:

- while a schema-maximum request (200 persons, ~95 pages; the server's ``max_persons``
  is raised to it) renders in one worker, reads and small POSTs of another authority
  answer within 2 s from the other worker;
- ``kill -9`` of workers at random moments of 100 concurrent POSTs of one authority
  leaves, after ``migdocs fsck --repair``, every number issued or void, no file without a
  row, no number in two signed files, and an intact audit chain.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from service.cli.main import main
from service.domain.auth import create_api_key
from service.paths import SAMPLES_DIR
from service.pipeline.xmlinput import NAMESPACE
from service.store.db import Database
from service.store.tables import ISSUED, ISSUING, VOID, Issuance, StoredDocument
from signing.demo import build_demo
from tests.service.conftest import _postgres_database, _upgrade
from tests.service.test_api import with_new_id
from tests.signing.pdfcheck import xmp_text

YEAR = datetime.now(UTC).year
AUTHORITIES = ("KZ-MVD", "BY-GPK")
SMALL = (SAMPLES_DIR / "request-photo.xml").read_bytes()
"""A 1-page KZ-MVD request."""


def small_request_of(sender: str, recipient: str) -> bytes:
    """The 1-page request as sent by ``sender`` (signed by its demo signatory)."""
    ns = {"m": NAMESPACE}
    root = etree.fromstring(SMALL)
    for name, value in (
        ("sender", sender),
        ("recipient", recipient),
        ("signatory", f"{sender}-001"),
    ):
        element = root.find(f"m:header/m:{name}", ns)
        assert element is not None
        element.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


SMALL_BY_GPK = small_request_of("BY-GPK", "KZ-MVD")


SCHEMA_MAX_PERSONS = 200
"""``maxOccurs`` of ``person``; the default ``max_persons`` (100) is raised to it here so
that the render lasts long enough (~95 pages) to measure other requests during it."""


def largest_request() -> bytes:
    """BY-GPK's multi-page request grown to the schema's maximum of persons."""
    ns = {"m": NAMESPACE}
    root = etree.fromstring((SAMPLES_DIR / "request-multipage.xml").read_bytes())
    persons = root.find("m:persons", ns)
    assert persons is not None
    originals = list(persons)
    while len(persons) < SCHEMA_MAX_PERSONS:
        persons.append(copy.deepcopy(originals[len(persons) % len(originals)]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# ----- a real server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    method: str, url: str, key: str, body: bytes | None = None, timeout: float = 120
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"X-API-Key": key, "Content-Type": "application/xml"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    def __init__(self, instance: Path, url: str, keys: dict[str, str]) -> None:
        self.instance, self.url, self.keys = instance, url, keys
        self.log_path = instance.parent / "server.log"
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MIGDOCS_INSTANCE": str(instance),
            "DATABASE_URL": url,
            "MIGDOCS_MAX_PERSONS": str(SCHEMA_MAX_PERSONS),
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
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
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response,
            ):
                if response.status == 200 and len(self.workers()) == 2:
                    return
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("server did not start:\n" + self.log_path.read_text())
            time.sleep(0.2)

    def workers(self) -> list[int]:
        """The gunicorn workers: children of the master (this test's own process)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(c) for c in children]

    def post(self, authority: str, raw: bytes, timeout: float = 120) -> tuple[int, bytes]:
        return call("POST", f"{self.base}/api/v1/documents", self.keys[authority], raw, timeout)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._log.close()


@contextlib.contextmanager
def running_server(demo_template: Path, tmp_path: Path, url: str) -> Iterator[Server]:
    instance = tmp_path / "instance"
    shutil.copytree(demo_template, instance, dirs_exist_ok=True)
    if not url.startswith("sqlite"):
        _upgrade(url)
        build_demo(instance, url)
    database = Database(url)
    keys = {}
    try:
        with database.transaction() as session:
            for authority in AUTHORITIES:
                _, keys[authority] = create_api_key(session, authority, "hostile test")
    finally:
        database.dispose()
    server = Server(instance, url, keys)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def cli(server: Server, *args: str) -> tuple[int, str]:
    env = {"MIGDOCS_INSTANCE": str(server.instance), "DATABASE_URL": server.url}
    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


# ----- no lock while rendering ----------------------------------------------------------------


def _issuing_since(database: Database, authority: str) -> bool:
    with database.reading() as session:
        return (
            session.execute(
                select(Issuance.id).where(
                    Issuance.authority == authority, Issuance.status == ISSUING
                )
            ).first()
            is not None
        )


def _small_requests(server: Server, document: dict[str, Any]) -> list[tuple[str, float, int]]:
    """A PDF read, a metadata read and a 1-page POST of KZ-MVD, each timed."""
    key = server.keys["KZ-MVD"]
    requests: list[tuple[str, Callable[[], tuple[int, bytes]]]] = [
        ("read pdf", lambda: call("GET", server.base + document["links"]["pdf"], key, None, 30)),
        ("read meta", lambda: call("GET", server.base + document["links"]["self"], key, None, 30)),
        ("small post", lambda: server.post("KZ-MVD", with_new_id(SMALL), 30)),
        # The large document's own authority: its numbers are not issued one at a time.
        ("same authority", lambda: server.post("BY-GPK", with_new_id(SMALL_BY_GPK), 30)),
    ]
    timed = []
    for what, request in requests:
        start = time.perf_counter()
        status, _ = request()
        timed.append((what, time.perf_counter() - start, status))
    return timed


def _assert_answered_in_time(latencies: list[tuple[str, float, int]]) -> None:
    """Reads within 2 s each; 1-page POSTs within 2 s at the median and 5 s at most.

    On a quiet 2-core machine every POST here takes ~0.7 s (it needs ~0.6 s of CPU while
    the large document keeps the other core busy); the slack of the maximum is for a
    machine shared with other CPU-bound jobs, not for waiting: before the journal these
    requests waited 64-116 s behind the render.
    """
    reads = [(w, round(t, 2)) for w, t, _ in latencies if w.startswith("read") and t > 2.0]
    assert reads == [], reads
    posts = sorted(t for w, t, _ in latencies if not w.startswith("read"))
    assert posts[len(posts) // 2] <= 2.0 and posts[-1] <= 5.0, posts


def test_reads_and_small_posts_answer_within_2s_while_the_largest_document_renders(
    demo_template: Path, tmp_path: Path, database_url: str
) -> None:
    large = largest_request()
    with running_server(demo_template, tmp_path, database_url) as server:
        # Warm both workers (the first signature of a process loads keys and fonts).
        with ThreadPoolExecutor(max_workers=2) as pool:
            warm = list(pool.map(lambda _: server.post("KZ-MVD", with_new_id(SMALL)), range(4)))
        assert [status for status, _ in warm] == [201] * 4, warm
        document = json.loads(warm[0][1])
        large_result: list[tuple[int, bytes]] = []
        large_post = threading.Thread(
            target=lambda: large_result.append(server.post("BY-GPK", large))
        )
        database = Database(database_url)
        try:
            large_post.start()
            deadline = time.monotonic() + 30
            while not _issuing_since(database, "BY-GPK"):
                assert time.monotonic() < deadline, "the large document never got a number"
                time.sleep(0.05)
            # The large document holds a reserved number and is rendering: measure now.
            # Every round of measurements starts while its number is still issuing.
            latencies: list[tuple[str, float, int]] = []
            while len(latencies) < 12 and _issuing_since(database, "BY-GPK"):
                latencies += _small_requests(server, document)
        finally:
            large_post.join(timeout=120)
            database.dispose()
        assert len(latencies) >= 4, "no round of measurements while the large document rendered"
        assert [status for _, _, status in latencies] == [
            200 if what.startswith("read") else 201 for what, _, _ in latencies
        ]
        print("latencies while rendering:", [(w, round(t, 3)) for w, t, _ in latencies])
        _assert_answered_in_time(latencies)
        assert large_result and large_result[0][0] == 201, large_result
        large_body = json.loads(large_result[0][1])
        assert large_body["page_count"] >= 90
        # It reserved BY-GPK's first number; the small ones after it were issued meanwhile.
        assert large_body["registration_number"] == f"BY-GPK-{YEAR}-000001"


# ----- kill -9 during a burst -------------------------------------------------------------------


DC_IDENTIFIER = "{http://purl.org/dc/elements/1.1/}identifier"


def xmp_identifiers(pdf: bytes) -> list[str]:
    """Every dc:identifier of the PDF's XMP, written as an element or as an attribute."""
    xmp = etree.fromstring(xmp_text(pdf).encode("utf-8"))
    found = [e.text or "" for e in xmp.iter(DC_IDENTIFIER)]
    return found + [e.get(DC_IDENTIFIER, "") for e in xmp.iter() if e.get(DC_IDENTIFIER)]


def _storage_files(instance: Path) -> list[Path]:
    return sorted(p for p in (instance / "documents").rglob("*") if p.is_file())


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


def test_kill_9_of_workers_during_100_posts_leaves_every_number_issued_or_void(
    demo_template: Path, tmp_path: Path, postgres_url: str
) -> None:
    posts, kills_wanted = 100, 6
    with running_server(demo_template, tmp_path, postgres_url) as server:
        started = time.monotonic()  # the burst, the kills and the checks: bounded
        done = threading.Event()
        kills: list[int] = []

        def killer() -> None:
            rng = random.Random()
            while not done.is_set() and len(kills) < kills_wanted:
                if done.wait(rng.uniform(0.4, 1.6)):
                    return
                workers = server.workers()
                if workers:
                    victim = rng.choice(workers)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(victim, signal.SIGKILL)
                        kills.append(victim)

        def post(_: int) -> int | str:
            try:
                return server.post("KZ-MVD", with_new_id(SMALL), timeout=60)[0]
            except (OSError, http.client.HTTPException) as exc:
                return type(exc).__name__  # the worker died under this request

        thread = threading.Thread(target=killer)
        thread.start()
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                outcomes = list(pool.map(post, range(posts)))
        finally:
            done.set()
            thread.join()
        burst = time.monotonic() - started
    assert len(kills) >= 3, kills
    assert {o for o in outcomes if not isinstance(o, str)} == {201}, outcomes
    assert outcomes.count(201) >= posts // 2, outcomes
    summary = {str(o): outcomes.count(o) for o in set(outcomes)}

    instance = server.instance
    first_code, first_report = cli(server, "fsck")
    repair_code, repaired = cli(server, "fsck", "--repair", "--stuck-after", "0")
    final_code, final = cli(server, "fsck")
    assert final_code == 0 and "0 problem(s)" in final, (first_report, repaired, final)
    assert first_code in (0, 1) and repair_code == 0, repaired

    database = Database(postgres_url)
    try:
        with database.reading() as session:
            journal = session.execute(select(Issuance)).scalars().all()
            documents = {d.id: d for d in session.execute(select(StoredDocument)).scalars()}
    finally:
        database.dispose()
    # Every number 1..N of the authority is in the journal, issued or void, once.
    seqs = sorted(i.reg_seq for i in journal)
    assert seqs == list(range(1, len(journal) + 1))
    assert {i.status for i in journal} <= {ISSUED, VOID}
    issued = {i.id for i in journal if i.status == ISSUED}
    assert issued == set(documents)
    assert len(issued) >= outcomes.count(201)
    # No file without a row; no number in two signed files.
    files = [f for f in _storage_files(instance) if not f.name.startswith("signatories-")]
    assert {f.name for f in files} == {f"{d}.{s}" for d in documents for s in ("pdf", "xml")}
    numbers = []
    for path in files:
        if path.suffix == ".pdf":
            found = xmp_identifiers(path.read_bytes())
            assert found == [documents[path.stem].registration_number], (path, found)
            numbers += found
    assert len(numbers) == len(set(numbers)) == len(documents)
    verified = cli(server, "audit", "verify")
    assert verified[0] == 0, verified
    elapsed = time.monotonic() - started
    print(f"kill -9 x{len(kills)}: burst {burst:.1f} s, with checks {elapsed:.1f} s; {summary}")
    assert elapsed < 60
