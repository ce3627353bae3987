"""End-to-end benchmark on PostgreSQL: overhead around WeasyPrint, one authority on 1 and 2
workers, two application hosts.

    python bench/bench_service.py [--database URL] [--requests 20] [--rounds 3]
                                  [--burst 8] [--storage-backend database] [--summary]

Everything is measured in one run against real ``migdocs serve`` processes (gunicorn) on
one PostgreSQL database that the bench creates and drops.  The machine may be shared, so
every ratio compares measurements taken *in alternation* — a change of load hits both
sides of a ratio alike:

1. **Overhead** (1 worker): sequential POSTs of a 1-page and a 5-page request, each POST
   followed by a bare WeasyPrint render (``HTML.render`` + ``write_pdf``) of the same
   document's HTML in this process; p50/p95 of the POSTs, the bare median, p50/bare.
2. **One authority**: every POST from KZ-MVD (one counter), 2 requests in flight per
   worker, a 1-worker and a 2-worker server taking turns in bursts; requests/s of each
   and the ratio.
3. **Two hosts**: two 1-worker servers with separate instance directories on the one
   database (storage in it: ``--storage-backend database``), 2 in flight per host,
   against one of them alone, taking turns; the throughput ratio.

Then every authority's numbers are checked: one per document, gap-free from 1, all
issued.  With ``--summary`` the output ends with exactly four lines::

    overhead_1page=<p50/bare>
    overhead_5page=<p50/bare>
    one_authority_2w_over_1w=<throughput ratio>
    two_hosts_over_one=<throughput ratio>
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import weasyprint
from lxml import etree
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.domain.auth import create_api_key
from service.paths import SAMPLES_DIR
from service.pipeline.rendering import AssetFetcher, default_renderer, qr_png
from service.pipeline.stages import parse_document
from service.pipeline.xmlinput import NAMESPACE
from service.store.db import Database
from service.store.migrate import upgrade
from service.store.tables import Issuance, StoredDocument
from signing.api import DocumentSigner, SignRequest
from signing.appearance import SignatureBlockInfo
from signing.demo import build_demo

NS = {"m": NAMESPACE}
HEADINGS = ("document", "pages", "bare ms", "p50 ms", "p95 ms", "p50/bare")
DEFAULT_DATABASE = os.environ.get(
    "MIGDOCS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# ----- documents ----------------------------------------------------------------------------


def one_page_request() -> bytes:
    root = etree.fromstring((SAMPLES_DIR / "request-legislation.xml").read_bytes())
    for name in ("summary", "purpose", "justification"):
        root.find(f"m:{name}", NS).text = "Просим предоставить сведения о порядке регистрации."
    other = root.find("m:otherInformation", NS)
    if other is not None:
        root.remove(other)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def five_page_request() -> bytes:
    base = etree.fromstring((SAMPLES_DIR / "request-multipage.xml").read_bytes())
    renderer = default_renderer()
    persons = base.find("m:persons", NS)
    for keep in range(1, len(persons) + 1):
        root = copy.deepcopy(base)
        container = root.find("m:persons", NS)
        for person in list(container)[keep:]:
            container.remove(person)
        raw = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        doc = parse_document(raw)
        if renderer.pdf(doc, renderer.html(doc, "X"), raw).page_count >= 5:
            return raw
    raise SystemExit("cannot build a 5-page request from the samples")


def with_new_id(raw: bytes) -> bytes:
    start = raw.index(b"<documentId>") + len(b"<documentId>")
    return raw[:start] + str(uuid.uuid4()).encode() + raw[raw.index(b"</documentId>") :]


def as_sender(raw: bytes, sender: str, recipient: str) -> bytes:
    """The document sent by ``sender`` (signed by its demo signatory) to ``recipient``."""
    root = etree.fromstring(raw)
    header = root.find("m:header", NS)
    header.find("m:sender", NS).text = sender
    header.find("m:recipient", NS).text = recipient
    header.find("m:signatory", NS).text = f"{sender}-001"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class BareRender:
    """WeasyPrint alone on the document's HTML, signature block included (it is content)."""

    def __init__(self, raw: bytes, block: SignatureBlockInfo) -> None:
        self.renderer = default_renderer()
        doc = parse_document(raw)
        self.html = self.renderer.html(doc, "BENCH", signature=block)
        self.photos = {str(p.number): p.photo.data for p in doc.persons if p.photo}
        self.photos["qr"] = qr_png(block.verification_url or "")
        self.pages = 0

    def __call__(self) -> float:
        start = time.perf_counter()
        document = weasyprint.HTML(
            string=self.html, url_fetcher=AssetFetcher(self.renderer._fonts, self.photos)
        ).render(stylesheets=[self.renderer.stylesheet], font_config=self.renderer.font_config)
        document.write_pdf()
        self.pages = len(document.pages)
        return (time.perf_counter() - start) * 1000


# ----- HTTP -----------------------------------------------------------------------------------


def post(base: str, key: str, raw: bytes) -> float:
    request = urllib.request.Request(
        f"{base}/api/v1/documents",
        data=with_new_id(raw),
        headers={"X-API-Key": key, "Content-Type": "application/xml"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        if response.status != 201:
            raise RuntimeError(f"POST returned {response.status}")
    return (time.perf_counter() - start) * 1000


def burst(bases: list[str], key: str, raw: bytes, requests: int, in_flight: int) -> float:
    """Seconds for ``requests`` POSTs, ``in_flight`` at a time, spread over ``bases``."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(lambda i: post(bases[i % len(bases)], key, raw), range(requests)))
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(instance: Path, url: str, workers: int, backend: str) -> Iterator[str]:
    """``migdocs serve`` with ``workers`` workers on ``instance``; its base URL."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    env = {**os.environ, "MIGDOCS_INSTANCE": str(instance), "DATABASE_URL": url}
    if backend != "files":  # the default; older trees know no such setting
        env["MIGDOCS_STORAGE_BACKEND"] = backend
    log = (instance.parent / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--workers", str(workers), "--bind", bind],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# ----- measurements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    pages: int
    bare: float
    p50: float
    p95: float

    @property
    def ratio(self) -> float:
        return self.p50 / self.bare


def latency(base: str, key: str, raw: bytes, bare: BareRender, requests: int) -> Latency:
    for _ in range(3):  # warm up the worker and this process
        post(base, key, raw)
        bare()
    posts, bares = [], []
    for _ in range(requests):
        posts.append(post(base, key, raw))
        bares.append(bare())
    posts.sort()
    return Latency(
        bare.pages,
        statistics.median(bares),
        statistics.median(posts),
        posts[round(0.95 * (len(posts) - 1))],
    )


def alternating(
    setups: dict[str, tuple[list[str], int]], key: str, raw: bytes, rounds: int, burst_size: int
) -> dict[str, float]:
    """Requests/s of each setup (``bases``, workers in all), bursts taking turns."""
    seconds = dict.fromkeys(setups, 0.0)
    counts = dict.fromkeys(setups, 0)
    for bases, workers in setups.values():  # warm every worker
        burst(bases, key, raw, 2 * workers, 2 * workers)
    for _ in range(rounds):
        for name, (bases, workers) in setups.items():
            requests = burst_size * workers
            seconds[name] += burst(bases, key, raw, requests, 2 * workers)
            counts[name] += requests
    return {name: counts[name] / seconds[name] for name in setups}


def check_numbers(url: str) -> int:
    """Every POST succeeded: each authority's numbers are 1..N, all issued."""
    database = Database(url)
    try:
        with database.reading() as session:
            rows = session.execute(select(StoredDocument.sender, StoredDocument.reg_seq)).all()
            journal = session.execute(
                select(Issuance.status, func.count()).group_by(Issuance.status)
            ).all()
    finally:
        database.dispose()
    for sender in {s for s, _ in rows}:
        seqs = sorted(seq for s, seq in rows if s == sender)
        if seqs != list(range(1, len(seqs) + 1)):
            raise SystemExit(f"numbers of {sender} are not distinct and gap-free")
    if dict(journal) != {"issued": len(rows)}:
        raise SystemExit(f"journal is not all issued: {dict(journal)}")
    return len(rows)


# ----- main -------------------------------------------------------------------------------------


def prepare(work: Path, url: str) -> tuple[Path, Path, dict[str, str], SignatureBlockInfo]:
    first, second = work / "host-a" / "instance", work / "host-b" / "instance"
    first.mkdir(parents=True)
    database = Database(url)
    upgrade(database)
    build_demo(first, url)
    shutil.copytree(first, second)
    keys = {}
    with database.transaction() as session:
        for authority in ("KZ-MVD", "BY-MVD"):
            _, keys[authority] = create_api_key(session, authority, "bench")
    block = DocumentSigner(database.sessions).prepare_block(
        SignRequest(
            pdf=b"", signatory_id="KZ-MVD-001", authority="KZ-MVD", document_type="request"
        ),
        datetime.now(UTC),
        "KZ-MVD-2026-000001",
    )
    database.dispose()
    return first, second, keys, block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="PostgreSQL admin URL")
    parser.add_argument("--requests", type=int, default=20, help="POSTs per latency figure")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per throughput figure")
    parser.add_argument("--burst", type=int, default=8, help="requests per worker per burst")
    parser.add_argument("--storage-backend", default="database", choices=("database", "files"))
    parser.add_argument("--summary", action="store_true", help="end with the four ratios")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="migdocs-bench-"))
    name = f"migdocs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.database.rsplit("/", 1)[0] + f"/{name}"
    backend = args.storage_backend
    try:
        first, second, keys, block = prepare(work, url)
        key = keys["KZ-MVD"]
        documents = {
            "1-page": as_sender(one_page_request(), "KZ-MVD", "BY-MVD"),
            "5-page": as_sender(five_page_request(), "KZ-MVD", "BY-MVD"),
        }
        load = os.getloadavg()[0]
        print(f"PostgreSQL, storage {backend}; load average {load:.1f} on {os.cpu_count()} cores")
        with ExitStack() as stack:
            host_a = stack.enter_context(server(first, url, 1, backend))
            print(f"\nlatency, 1 worker, {args.requests} sequential POSTs each")
            print(" ".join(f"{h:>8}" for h in HEADINGS))
            measured = {}
            for label, raw in documents.items():
                m = measured[label] = latency(
                    host_a, key, raw, BareRender(raw, block), args.requests
                )
                figures = (m.bare, m.p50, m.p95)
                print(f"{label:>8} {m.pages:8d} " + " ".join(f"{f:8.1f}" for f in figures), end="")
                print(f" {m.ratio:8.2f}")

            host_a2 = stack.enter_context(server(first, url, 2, backend))
            host_b = stack.enter_context(server(second, url, 1, backend))
            raw = documents["1-page"]
            rates = alternating(
                {
                    "1 worker": ([host_a], 1),
                    "2 workers": ([host_a2], 2),
                    "2 hosts": ([host_a, host_b], 2),
                },
                key,
                raw,
                args.rounds,
                args.burst,
            )
        one_authority = rates["2 workers"] / rates["1 worker"]
        two_hosts = rates["2 hosts"] / rates["1 worker"]
        print("\nthroughput, one authority (KZ-MVD), 1-page, 2 in flight per worker, ", end="")
        print(f"{args.rounds} rounds of {args.burst} requests per worker")
        print(f"  1 host, 1 worker:    {rates['1 worker']:6.2f} req/s")
        print(f"  1 host, 2 workers:   {rates['2 workers']:6.2f} req/s  ({one_authority:.2f}x)")
        print(f"  2 hosts, 1 worker:   {rates['2 hosts']:6.2f} req/s  ({two_hosts:.2f}x)")
        issued = check_numbers(url)
        print(f"{issued} numbers issued: distinct, gap-free per authority, all in the journal")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        if args.summary:
            print(f"overhead_1page={measured['1-page'].ratio:.2f}")
            print(f"overhead_5page={measured['5-page'].ratio:.2f}")
            print(f"one_authority_2w_over_1w={one_authority:.2f}")
            print(f"two_hosts_over_one={two_hosts:.2f}")
    except BaseException:
        for log in sorted(work.glob("*/server.log")):
            print(f"{log} (last lines):\n" + "\n".join(log.read_text().splitlines()[-30:]))
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
