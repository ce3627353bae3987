"""Exchange benchmark: N documents KZ → BY over two real nodes, W delivery workers.

    python bench/bench_exchange.py [--count 40] [--workers 2] [--database postgresql]
                                   [--concurrent]

Builds a demo PKI, two nodes (two SQLite files or two PostgreSQL databases on
127.0.0.1:5432) peered over mTLS on loopback, stores N requests on the KZ node with no
worker running (a backlog), then starts W worker threads and times until every delivery
has its receipt.  Prints deliveries per second, per-delivery latency (claim → receipt
recorded: send, BY's full verification, numbering, storing, receipt rendering and seal,
receipt check) and store → receipt for the backlog.  ``--concurrent`` starts the workers
first and stores while they deliver (store → receipt then measures a live stream, not a
backlog).  Everything runs in this one process
(BY's peer listener is a thread pool), so W workers share one GIL with the receiver.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.exchange.delivery import Claimed, DeliveryWorker
from service.store.db import Database
from service.store.exchange_tables import DELIVERED, Delivery
from service.store.migrate import upgrade
from signing.demo import build_demo
from tests.exchange.conftest import make_node, peer_up, request_xml
from tests.service.conftest import _postgres_database


def _template(base: Path) -> Path:
    instance = base / "template"
    url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
    database = Database(url)
    try:
        upgrade(database)
    finally:
        database.dispose()
    build_demo(instance, url)
    return instance


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", "--documents", dest="documents", type=int, default=40)
    parser.add_argument("--concurrent", action="store_true", help="store while the workers deliver")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        template = _template(base)
        generators: list[Iterator[str]] = []
        if args.database == "sqlite":
            urls = [f"sqlite:///{base / p / 'migdocs.sqlite3'}" for p in ("kz", "by")]
        else:
            generators = [_postgres_database(), _postgres_database()]
            urls = [next(g) for g in generators]
        kz = make_node(template, base, "KZ", urls[0])
        by = make_node(template, base, "BY", urls[1])
        try:
            peer_up(kz, by)
            latencies: list[float] = []
            lock = threading.Lock()
            storing = threading.Event()

            def timed(worker: DeliveryWorker) -> None:
                original = worker.process

                def process(item: Claimed) -> None:
                    t0 = time.perf_counter()
                    original(item)
                    with lock:
                        latencies.append(time.perf_counter() - t0)

                worker.process = process  # type: ignore[method-assign]
                while worker.run_once(limit=1) or storing.is_set():
                    if storing.is_set():
                        time.sleep(0.05)

            workers = [
                DeliveryWorker(kz.services.settings, kz.services.database, kz.services.storage)
                for _ in range(args.workers)
            ]
            for worker in workers:  # the lists first, outside the timings
                worker.publisher.run_once()
            threads = [threading.Thread(target=timed, args=(w,)) for w in workers]

            def store() -> float:
                t0 = time.perf_counter()
                for _ in range(args.documents):
                    kz.post(request_xml(), "KZ-MTSZN")
                return time.perf_counter() - t0

            if args.concurrent:
                storing.set()
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                store_seconds = store()
                storing.clear()
            else:
                store_seconds = store()
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            with kz.services.database.reading() as session:
                rows = session.query(Delivery).all()
                store_to_receipt = [
                    (r.finished_at - r.created_at).total_seconds()
                    for r in rows
                    if r.finished_at is not None
                ]
                delivered = sum(r.status == DELIVERED for r in rows)
            print(
                f"{args.database}: {args.documents} documents stored in {store_seconds:.1f} s "
                f"({args.documents / store_seconds:.1f}/s, render+sign on KZ)"
            )
            print(
                f"delivered {delivered}/{len(rows)} with {args.workers} workers in "
                f"{elapsed:.1f} s: {delivered / elapsed:.2f} deliveries/s"
            )
            print(
                f"per delivery (claim → receipt recorded): median "
                f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
                f"{_p(latencies, 0.95) * 1000:.0f} ms"
            )
            mode = "live stream" if args.concurrent else "backlog, includes queueing"
            print(
                f"store → receipt ({mode}): median "
                f"{statistics.median(store_to_receipt):.1f} s, p95 "
                f"{_p(store_to_receipt, 0.95):.1f} s"
            )
        finally:
            for node in (kz, by):
                node.stop()
                node.services.database.dispose()
            for generator in generators:
                for _ in generator:
                    pass


if __name__ == "__main__":
    main()
