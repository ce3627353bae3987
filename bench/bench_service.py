"""End-to-end benchmark: POST → 201 against a running ``migdocs serve``.

    python bench/bench_service.py [--database URL] [--requests 30] [--workers 1,2]

For 1 and 2 gunicorn workers and for a 1-page and a 5-page request it reports p50/p95
latency of sequential POSTs, throughput with 2 requests in flight per worker (two authorities
taking turns: numbers of one authority are issued one at a time), and the ratio
of the sequential p50 to the bare WeasyPrint render of the same document measured in this
same run.  The default database is a temporary SQLite file (the embedded default); pass a
PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to measure the
production configuration — the bench creates and drops its own database there.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import weasyprint
from lxml import etree
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.domain.auth import create_api_key
from service.paths import SAMPLES_DIR
from service.pipeline.rendering import AssetFetcher, default_renderer, qr_png
from service.pipeline.stages import parse_document
from service.pipeline.xmlinput import NAMESPACE
from service.store.db import Database
from service.store.migrate import upgrade
from signing.api import DocumentSigner, SignRequest
from signing.appearance import SignatureBlockInfo
from signing.demo import build_demo

NS = {"m": NAMESPACE}


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


def bare_render_ms(raw: bytes, block: SignatureBlockInfo, runs: int = 10) -> tuple[float, int]:
    """WeasyPrint alone on the document's HTML, signature block included (it is content)."""
    renderer = default_renderer()
    doc = parse_document(raw)
    html = renderer.html(doc, "BENCH", signature=block)
    photos = {str(p.number): p.photo.data for p in doc.persons if p.photo}
    photos["qr"] = qr_png(block.verification_url or "")
    times, pages = [], 0
    for _ in range(runs + 1):
        start = time.perf_counter()
        document = weasyprint.HTML(
            string=html, url_fetcher=AssetFetcher(renderer._fonts, photos)
        ).render(stylesheets=[renderer.stylesheet], font_config=renderer.font_config)
        document.write_pdf()
        times.append((time.perf_counter() - start) * 1000)
        pages = len(document.pages)
    return statistics.median(times[1:]), pages


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


def measure_throughput(
    base: str, senders: list[tuple[str, bytes]], requests: int, in_flight: int
) -> float:
    """Requests per second with ``in_flight`` concurrent clients, senders taking turns."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(lambda i: post(base, *senders[i % len(senders)]), range(requests)))
    return requests / (time.perf_counter() - start)


def as_sender(raw: bytes, sender: str, recipient: str) -> bytes:
    """The document sent by ``sender`` (signed by its demo signatory) to ``recipient``."""
    root = etree.fromstring(raw)
    header = root.find("m:header", NS)
    header.find("m:sender", NS).text = sender
    header.find("m:recipient", NS).text = recipient
    header.find("m:signatory", NS).text = f"{sender}-001"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(instance: Path, url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "MIGDOCS_INSTANCE": str(instance), "DATABASE_URL": url}
    log = (instance.parent / "server.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service",
            "serve",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return process, base
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=None)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="migdocs-bench-"))
    instance = work / "instance"
    pg_name = None
    if args.database:
        pg_name = f"migdocs_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        url = args.database.rsplit("/", 1)[0] + f"/{pg_name}"
    else:
        url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
    try:
        instance.mkdir(parents=True)
        database = Database(url)
        upgrade(database)
        build_demo(instance, url)
        with database.transaction() as session:
            _, key = create_api_key(session, "KZ-MVD", "bench")
            _, key_by = create_api_key(session, "BY-MVD", "bench")
        block = DocumentSigner(database.sessions).prepare_block(
            SignRequest(
                pdf=b"", signatory_id="KZ-MVD-001", authority="KZ-MVD", document_type="request"
            ),
            datetime.now(UTC),
            "KZ-MVD-2026-000001",
        )
        database.dispose()
        documents = {
            name: as_sender(raw, "KZ-MVD", "BY-MVD")
            for name, raw in (("1-page", one_page_request()), ("5-page", five_page_request()))
        }
        print(
            f"database: {'PostgreSQL' if pg_name else 'SQLite'}; "
            f"{args.requests} requests per measurement"
        )
        print(
            f"{'workers':>7} {'document':>8} {'pages':>5} {'bare ms':>8} {'p50 ms':>8} "
            f"{'p95 ms':>8} {'p50/bare':>8} {'req/s':>7}"
        )
        for workers in (int(w) for w in args.workers.split(",")):
            process, base = start_server(instance, url, workers)
            try:
                for name, raw in documents.items():
                    for _ in range(3):
                        post(base, key, raw)  # warm every worker
                    bare, pages = bare_render_ms(raw, block)
                    latencies = sorted(post(base, key, raw) for _ in range(args.requests))
                    p50 = statistics.median(latencies)
                    p95 = latencies[int(0.95 * (len(latencies) - 1))]
                    throughput = measure_throughput(
                        base,
                        [(key, raw), (key_by, as_sender(raw, "BY-MVD", "KZ-MVD"))],
                        args.requests,
                        2 * workers,
                    )
                    print(
                        f"{workers:7d} {name:>8} {pages:5d} {bare:8.1f} {p50:8.1f} "
                        f"{p95:8.1f} {p50 / bare:8.2f} {throughput:7.1f}"
                    )
            finally:
                process.terminate()
                process.wait(timeout=30)
    except Exception:
        log = work / "server.log"
        if log.exists():
            print("server log (last lines):\n" + "\n".join(log.read_text().splitlines()[-30:]))
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if pg_name:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
