"""End-to-end benchmark on PostgreSQL: overhead around WeasyPrint, one authority on 1 and 2
workers, two application hosts.

    python bench/bench_service.py [--database URL] [--requests 20] [--rounds 3]
                                  [--burst 8] [--storage-backend database] [--summary]
    python bench/bench_service.py --memory [--memory-documents 10000]
                                  [--memory-warmup 200] [--memory-every 500]

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

``--memory`` measures instead whether a worker keeps its memory (issue 15 item 6): one
1-worker server with recycling by request count switched off (``max_requests = 0``), so
one process is measured throughout; N 1-page POSTs, 2 in flight; the worker's resident
size (``VmRSS`` of the gunicorn worker, not the arbiter) after the warm-up and every K
documents, and a check that its pid never changed.  Then the largest document the
service accepts (:func:`largest_request`) is posted: the worker must come back within
5 % of its baseline or be recycled (``worker_max_rss_mb``), and keep serving.  It ends
with ``rss_baseline_mb=``, ``rss_final_mb=``, ``rss_growth=`` and the largest document's
figures.
"""

from __future__ import annotations

import argparse
import base64
import copy
import io
import os
import random
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
from PIL import Image
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.domain.auth import create_api_key
from service.paths import SAMPLES_DIR
from service.pipeline.letterhead import Parties, seed_parties
from service.pipeline.limits import DEFAULT_LIMITS, Limits
from service.pipeline.rendering import AssetFetcher, default_renderer, qr_png
from service.pipeline.stages import intake, parse_document
from service.pipeline.xmlinput import NAMESPACE
from service.store.db import Database
from service.store.migrate import upgrade
from service.store.tables import Issuance, StoredDocument
from signing.api import DocumentSigner, SignRequest
from signing.appearance import SignatureBlockInfo
from signing.demo import build_demo
from signing.registry import Registry

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


@dataclass(frozen=True)
class Letter:
    """What the server prints beside the XML's content: the signature block (with a
    registration number of the real format) and the letterhead of the registry."""

    block: SignatureBlockInfo
    parties: Parties


class BareRender:
    """WeasyPrint alone on the document's HTML: the HTML the server renders, signature
    block, number and letterhead included (they are content)."""

    def __init__(self, raw: bytes, letter: Letter) -> None:
        self.renderer = default_renderer()
        doc = parse_document(raw)
        block = letter.block
        self.html = self.renderer.html(
            doc, block.registration_number, signature=block, parties=letter.parties
        )
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


def post(base: str, key: str, raw: bytes, timeout: float = 120) -> float:
    request = urllib.request.Request(
        f"{base}/api/v1/documents",
        data=with_new_id(raw),
        headers={"X-API-Key": key, "Content-Type": "application/xml"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as response:
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


@dataclass(frozen=True)
class Running:
    """A started ``migdocs serve``: its base URL, its arbiter process and its log."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serving(
    instance: Path,
    url: str,
    workers: int,
    backend: str,
    settings: dict[str, str] | None = None,
    tree: Path | None = None,
) -> Iterator[Running]:
    """``migdocs serve`` with ``workers`` workers on ``instance`` (``settings``: extra
    ``MIGDOCS_*`` environment, e.g. ``{"MAX_REQUESTS": "0"}``; ``tree``: run the code of
    another checkout, for ``ab_service.py``)."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    env = {**os.environ, "MIGDOCS_INSTANCE": str(instance), "DATABASE_URL": url}
    if backend != "files":  # the default; older trees know no such setting
        env["MIGDOCS_STORAGE_BACKEND"] = backend
    env.update({f"MIGDOCS_{name}": value for name, value in (settings or {}).items()})
    log_path = instance.parent / "server.log"
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--workers", str(workers), "--bind", bind],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tree,
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
        yield Running(base, process, log_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@contextmanager
def server(instance: Path, url: str, workers: int, backend: str) -> Iterator[str]:
    """``migdocs serve`` with ``workers`` workers on ``instance``; its base URL."""
    with serving(instance, url, workers, backend) as running:
        yield running.base


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


# ----- memory ---------------------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``: resident now, ``VmHWM``: peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise ValueError(f"/proc/{pid}/status has no {field}")


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` now, MiB."""
    return status_kib(pid, "VmRSS") / 1024


def worker_pids(arbiter: int) -> list[int]:
    """The gunicorn workers of ``arbiter``: its children running the same command line
    (forked, not exec'd — a companion subprocess such as a delivery worker differs)."""
    command = Path(f"/proc/{arbiter}/cmdline").read_bytes()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces or ")"
        if parent == arbiter and cmdline == command:
            found.append(int(entry.name))
    return sorted(found)


def the_worker(arbiter: int, timeout: float = 60.0) -> int:
    """The pid of the single worker of a 1-worker server (waiting while it is replaced)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = worker_pids(arbiter)
        if len(pids) == 1:
            return pids[0]
        if time.monotonic() > deadline:
            raise SystemExit(f"expected one worker of {arbiter}, found {pids}")
        time.sleep(0.1)


def textured_jpeg(size: tuple[int, int], seed: int, budget: int, grain: int) -> bytes:
    """A JPEG of ``size`` pixels with texture of ``grain`` pixels, at most ``budget`` bytes
    (the best quality that fits)."""
    rng = random.Random(seed)
    coarse = (max(8, size[0] // grain), max(8, size[1] // grain))
    noise = rng.randbytes(coarse[0] * coarse[1] * 3)
    image = Image.frombytes("RGB", coarse, noise).resize(size, Image.Resampling.BICUBIC)
    for quality in range(95, 0, -5):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= budget:
            return buffer.getvalue()
    raise SystemExit(f"cannot fit a {size} JPEG into {budget} bytes")


LARGE_PHOTOS = 9
"""Photos at the per-image pixel cap; the other persons share the rest of the total cap."""


def largest_request(limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The largest realistic document the service accepts under the published limits.

    ``max_persons`` persons (the multi-page sample's persons over and over), every one
    with a photo: :data:`LARGE_PHOTOS` of ``max_image_pixels`` (6000×4000, scaled down
    for print), the others sharing the rest of ``max_total_image_pixels``; photos as
    large in bytes as the schema (1 MiB) and ``max_xml_bytes`` let them be; every free
    text at the schema's 20,000 characters.  Asserted to pass ``intake`` unchanged.
    """
    root = etree.fromstring((SAMPLES_DIR / "request-multipage.xml").read_bytes())
    text = "Просим предоставить сведения о регистрации, пребывании и выезде лиц. "
    for name in ("summary", "purpose", "justification", "otherInformation"):
        element = root.find(f"m:{name}", NS)
        if element is None:
            continue
        element.text = (text * (20_000 // len(text) + 1))[:20_000].strip()
    container = root.find("m:persons", NS)
    people = list(container)
    for person in people:
        container.remove(person)
    count = limits.max_persons
    side = 6000, limits.max_image_pixels // 6000
    rest = (limits.max_total_image_pixels - LARGE_PHOTOS * side[0] * side[1]) // (
        count - LARGE_PHOTOS
    )
    small = 480, rest // 480
    sizes = [len(etree.tostring(person, encoding="UTF-8")) for person in people]
    text_bytes = len(etree.tostring(root, encoding="UTF-8")) + sum(
        sizes[i % len(people)] for i in range(count)
    )
    photo_budget = (limits.max_xml_bytes - text_bytes - 64 * 1024) * 3 // 4  # base64
    large_budget = min(1_000_000, photo_budget // (LARGE_PHOTOS + 1))
    small_budget = (photo_budget - LARGE_PHOTOS * large_budget) // (count - LARGE_PHOTOS)
    for i in range(count):
        person = copy.deepcopy(people[i % len(people)])
        large = i < LARGE_PHOTOS
        if large:
            data = textured_jpeg(side, i, large_budget, 40)
        else:
            data = textured_jpeg(small, i, small_budget, 4)
        photo = etree.Element(f"{{{NAMESPACE}}}photo", mediaType="image/jpeg")
        photo.text = base64.b64encode(data).decode()
        card = person.find("m:fingerprintCard", NS)
        if card is None:
            person.append(photo)
        else:
            card.addprevious(photo)
        container.append(person)
    raw = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    renderer = default_renderer()
    intake(raw, renderer.printable, limits)  # raises if the service would refuse it
    return raw


@dataclass(frozen=True)
class MemoryPoint:
    documents: int
    rss: float
    pid: int
    seconds: float


def memory_series(
    running: Running, key: str, raw: bytes, documents: int, warmup: int, every: int
) -> list[MemoryPoint]:
    """RSS of the one worker after the warm-up and after every ``every`` documents."""
    arbiter = running.process.pid
    burst([running.base], key, raw, warmup, 2)
    start = time.perf_counter()
    pid = the_worker(arbiter)
    points = [MemoryPoint(0, rss_mb(pid), pid, 0.0)]
    print(f"{'documents':>10} {'RSS MiB':>8} {'pid':>8} {'seconds':>8} {'docs/s':>7}")
    print(f"{0:10d} {points[0].rss:8.1f} {pid:8d} {0:8d}      -  (after {warmup} warm-up)")
    done = 0
    while done < documents:
        step = min(every, documents - done)
        burst([running.base], key, raw, step, 2)
        done += step
        pid = the_worker(arbiter)
        point = MemoryPoint(done, rss_mb(pid), pid, time.perf_counter() - start)
        points.append(point)
        rate = done / point.seconds
        print(f"{done:10d} {point.rss:8.1f} {pid:8d} {point.seconds:8.0f} {rate:7.2f}", flush=True)
    return points


@dataclass(frozen=True)
class LargestOutcome:
    xml_bytes: int
    seconds: float
    rss_after: float
    peak: float
    recycled: bool
    pid_after: int
    rss_settled: float
    logged: str


def post_largest(running: Running, key: str, small: bytes, largest: bytes) -> LargestOutcome:
    """Post the largest document; then whether its worker was replaced or shrank back."""
    arbiter = running.process.pid
    pid = the_worker(arbiter)
    started = time.perf_counter()
    post(running.base, key, largest, timeout=600)
    seconds = time.perf_counter() - started
    try:  # at once: the worker may be on its way out
        rss_after, peak = rss_mb(pid), status_kib(pid, "VmHWM") / 1024
    except (OSError, ValueError):
        rss_after = peak = float("nan")
    deadline = time.monotonic() + 40  # graceful_timeout plus a margin
    while time.monotonic() < deadline and worker_pids(arbiter) in ([pid], []):
        time.sleep(0.5)
    burst([running.base], key, small, 20, 2)  # it keeps serving (and the new one warms)
    after = the_worker(arbiter)
    lines = [
        line.split("] ")[-1]
        for line in running.log.read_text(errors="replace").splitlines()
        if f"worker {pid}" in line
    ]
    return LargestOutcome(
        len(largest),
        seconds,
        rss_after,
        peak,
        after != pid,
        after,
        rss_mb(after),
        "; ".join(lines),
    )


def memory_run(args: argparse.Namespace, instance: Path, url: str, key: str) -> None:
    raw = as_sender(one_page_request(), "KZ-MVD", "BY-MVD")
    largest = as_sender(largest_request(), "KZ-MVD", "BY-MVD")
    settings = {"MAX_REQUESTS": "0", "MAX_REQUESTS_JITTER": "0"}
    print(f"memory: 1 worker, max_requests=0, {args.memory_documents} 1-page POSTs, 2 in flight;")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with serving(instance, url, 1, args.storage_backend, settings) as running:
        first_pid = the_worker(running.process.pid)
        points = memory_series(
            running, key, raw, args.memory_documents, args.memory_warmup, args.memory_every
        )
        pids = {p.pid for p in points} | {first_pid}
        baseline, final = points[0].rss, points[-1].rss
        growth = final / baseline - 1
        print(f"worker pid {first_pid} throughout: {pids == {first_pid}}")
        if pids != {first_pid}:
            raise SystemExit(f"the worker was replaced during the run: {sorted(pids)}")
        print(f"\nlargest accepted document: {len(largest):,} bytes of XML")
        outcome = post_largest(running, key, raw, largest)
    returned = abs(outcome.rss_settled / baseline - 1) <= 0.05
    print(f"  POST {outcome.seconds:.1f} s; worker RSS right after {outcome.rss_after:.1f} MiB")
    print(f"  (peak {outcome.peak:.1f} MiB); recycled: {outcome.recycled}", end="")
    print(f" ({outcome.logged})" if outcome.logged else "")
    print(f"  after 20 more 1-page POSTs: worker {outcome.pid_after} at {outcome.rss_settled:.1f}")
    print(f"  MiB ({outcome.rss_settled / baseline - 1:+.1%} of the baseline)")
    issued = check_numbers(url)
    print(f"{issued} numbers issued: distinct, gap-free per authority, all in the journal")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print(f"rss_baseline_mb={baseline:.1f}")
    print(f"rss_final_mb={final:.1f}")
    print(f"rss_growth={growth:+.1%}")
    print(f"rss_largest_mb={outcome.rss_after:.1f}")
    print(f"rss_largest_peak_mb={outcome.peak:.1f}")
    print(f"largest_recycled={'yes' if outcome.recycled else 'no'}")
    print(f"rss_after_largest_mb={outcome.rss_settled:.1f}")
    if not (outcome.recycled or returned):
        raise SystemExit("the worker neither came back within 5 % nor was recycled")
    if growth > 0.05:
        raise SystemExit(f"RSS grew {growth:.1%} over {args.memory_documents} documents")


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database for one bench run, dropped afterwards; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ----- main -------------------------------------------------------------------------------------


def letter_of(database: Database, sender: str, recipient: str) -> Letter:
    """The letter of a document from ``sender`` (signed by its demo signatory ``-001``) to
    ``recipient`` as the server prints it now: its signature block, with a number of the
    real format, and the registry's letterhead."""
    at = datetime.now(UTC).replace(microsecond=0)
    block = DocumentSigner(database.sessions).prepare_block(
        SignRequest(
            pdf=b"", signatory_id=f"{sender}-001", authority=sender, document_type="request"
        ),
        at,
        f"{sender}-{at.year}-000001",
    )
    seed = seed_parties(sender, recipient)
    with database.reading() as session:
        registry = Registry(session)
        parties = Parties(
            registry.authority_at(sender, at) or seed.sender,
            registry.authority_at(recipient, at) or seed.recipient,
        )
    return Letter(block, parties)


def prepare(work: Path, url: str) -> tuple[Path, Path, dict[str, str], Letter]:
    """Two instance directories on ``url`` with the demo registry, API keys of KZ-MVD and
    BY-MVD, and the letter of a KZ-MVD → BY-MVD document as the server prints it."""
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
    letter = letter_of(database, "KZ-MVD", "BY-MVD")
    database.dispose()
    return first, second, keys, letter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="PostgreSQL admin URL")
    parser.add_argument("--requests", type=int, default=20, help="POSTs per latency figure")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per throughput figure")
    parser.add_argument("--burst", type=int, default=8, help="requests per worker per burst")
    parser.add_argument("--storage-backend", default="database", choices=("database", "files"))
    parser.add_argument("--summary", action="store_true", help="end with the four ratios")
    parser.add_argument("--memory", action="store_true", help="worker RSS over many documents")
    parser.add_argument("--memory-documents", type=int, default=10_000)
    parser.add_argument("--memory-warmup", type=int, default=200)
    parser.add_argument("--memory-every", type=int, default=500)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="migdocs-bench-"))
    backend = args.storage_backend
    try:
        with scratch_database(args.database, "migdocs_bench") as url:
            first, second, keys, letter = prepare(work, url)
            key = keys["KZ-MVD"]
            if args.memory:
                memory_run(args, first, url, key)
                return
            documents = {
                "1-page": as_sender(one_page_request(), "KZ-MVD", "BY-MVD"),
                "5-page": as_sender(five_page_request(), "KZ-MVD", "BY-MVD"),
            }
            load = os.getloadavg()[0]
            print(
                f"PostgreSQL, storage {backend}; load average {load:.1f} on {os.cpu_count()} cores"
            )
            with ExitStack() as stack:
                host_a = stack.enter_context(server(first, url, 1, backend))
                print(f"\nlatency, 1 worker, {args.requests} sequential POSTs each")
                print(" ".join(f"{h:>8}" for h in HEADINGS))
                measured = {}
                for label, raw in documents.items():
                    m = measured[label] = latency(
                        host_a, key, raw, BareRender(raw, letter), args.requests
                    )
                    figures = (m.bare, m.p50, m.p95)
                    print(
                        f"{label:>8} {m.pages:8d} " + " ".join(f"{f:8.1f}" for f in figures), end=""
                    )
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


if __name__ == "__main__":
    main()
