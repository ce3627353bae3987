"""Throughput of ONE authority on 1 and on 2 gunicorn workers (issue 15 item 2).

    python bench/bench_one_authority.py [--database URL] [--requests 40]

Every request is sent by KZ-MVD, so the numbers all come from one counter: before the
issuance journal the number lock was held through render and sign and one authority's
documents were issued one at a time whatever the number of workers.  Prints requests/s for
a 1-page and a 5-page request with 2 requests in flight per worker, then
``one_authority_2w_over_1w=<ratio>`` (1-page) and ``one_authority_2w_over_1w_5page=``.
Checks that the numbers issued are distinct and gap-free.  Uses the helpers of
``bench_service.py`` (same server start, same documents).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from pathlib import Path

from bench_service import (
    as_sender,
    five_page_request,
    measure_throughput,
    one_page_request,
    post,
    start_server,
)
from sqlalchemy import create_engine, select, text

from service.domain.auth import create_api_key
from service.store.db import Database
from service.store.migrate import upgrade
from service.store.tables import StoredDocument
from signing.demo import build_demo


def _check_numbers(url: str) -> int:
    """Every request succeeded, so the stored numbers must be 1..N (runs on old code too)."""
    database = Database(url)
    try:
        with database.reading() as session:
            seqs = sorted(session.execute(select(StoredDocument.reg_seq)).scalars())
    finally:
        database.dispose()
    if seqs != list(range(1, len(seqs) + 1)):
        raise SystemExit("stored numbers are not distinct and gap-free")
    return len(seqs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="migdocs-bench-one-"))
    instance = work / "instance"
    pg_name = None
    admin = None
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
        database.dispose()
        documents = {
            "1-page": as_sender(one_page_request(), "KZ-MVD", "BY-MVD"),
            "5-page": as_sender(five_page_request(), "KZ-MVD", "BY-MVD"),
        }
        print(f"database: {'PostgreSQL' if pg_name else 'SQLite'}; one authority (KZ-MVD)")
        rates: dict[tuple[int, str], float] = {}
        for workers in (1, 2):
            process, base = start_server(instance, url, workers)
            try:
                for name, raw in documents.items():
                    measure_throughput(base, [(key, raw)], 2 * workers, 2 * workers)  # warm
                    post(base, key, raw)
                    rate = measure_throughput(base, [(key, raw)], args.requests, 2 * workers)
                    rates[workers, name] = rate
                    print(f"workers={workers} {name}: {rate:.2f} req/s")
            finally:
                process.terminate()
                process.wait(timeout=30)
        issued = _check_numbers(url)
        print(f"{issued} numbers issued, distinct and gap-free")
        print(f"one_authority_2w_over_1w={rates[2, '1-page'] / rates[1, '1-page']:.2f}")
        print(f"one_authority_2w_over_1w_5page={rates[2, '5-page'] / rates[1, '5-page']:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
