"""Verification benchmark: verifications per second for a 1-signature, 2-page document.

    python bench/bench_verify.py [--seconds 5]

Builds a throw-away demo instance, has the service sign ``samples/request-photo.xml``
(2 pages, photo, source XML embedded), then, single-threaded (= per core):

* ``core, bare`` — :func:`signing.verification.verify_document` with trust roots only;
* ``core, full`` — what the service runs: + registry check, known-document lookup and
  schema validation of the embedded XML (SQLite);
* ``WSGI`` — ``POST /api/v1/verifications`` through Flask's test client (+ audit write);
* ``HTTP`` — the same over a loopback socket to a werkzeug server, one request at a time.

Target (issue 5): ≥ 50 verifications/s per core for the core.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server

from service.app import create_app
from service.domain.auth import create_api_key
from service.domain.verification import build_verifier
from service.paths import SAMPLES_DIR
from service.store.db import Database
from service.store.migrate import upgrade
from signing.demo import build_demo
from signing.verification import Indication, verify_document


def measure(label: str, seconds: float, run: Callable[[], Indication]) -> float:
    for _ in range(3):
        assert run() is Indication.TOTAL_PASSED, label
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        run()
        count += 1
    rate = count / elapsed
    print(f"{label:<34} {rate:7.1f} /s   {1000 / rate:6.2f} ms each   ({count} runs)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    args = parser.parse_args()
    logging.getLogger("migdocs.http").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="migdocs-bench-verify-") as tmp:
        instance = Path(tmp)
        url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
        database = Database(url)
        upgrade(database)
        database.dispose()
        build_demo(instance, url)
        app = create_app({"instance_dir": str(instance), "testing": True})
        services = app.extensions["migdocs"]
        with services.database.transaction() as session:
            _, key = create_api_key(session, "KZ-MVD", "bench")
        raw = (SAMPLES_DIR / "request-photo.xml").read_bytes()
        start = raw.index(b"<documentId>") + len(b"<documentId>")
        raw = raw[:start] + str(uuid.uuid4()).encode() + raw[raw.index(b"</documentId>") :]
        client = app.test_client()
        created = client.post(
            "/api/v1/documents",
            data=raw,
            headers={"X-API-Key": key, "Content-Type": "application/xml"},
        ).json
        pdf = client.get(created["links"]["pdf"], headers={"X-API-Key": key}).data
        print(
            f"document: {created['registration_number']}, {created['page_count']} pages, "
            f"{len(pdf)} bytes, 1 signature (RSA-3072, PAdES B-B)"
        )
        verifier = build_verifier(services.settings, services.database)

        def bare() -> Indication:
            return verify_document(pdf, trust_roots=verifier.roots, registry_lookup=None).indication

        def full() -> Indication:
            return verifier.verify(pdf).indication

        def wsgi() -> Indication:
            response = client.post(
                "/api/v1/verifications", data=pdf, content_type="application/pdf"
            )
            return Indication(response.json["indication"])

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        endpoint = f"http://127.0.0.1:{server.server_port}/api/v1/verifications"

        def http() -> Indication:
            request = urllib.request.Request(
                endpoint, data=pdf, headers={"Content-Type": "application/pdf"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return Indication(json.loads(response.read())["indication"])

        try:
            core = measure("core, bare (trust roots only)", args.seconds, bare)
            measure("core, full (registry, XML, known)", args.seconds, full)
            measure("WSGI POST /api/v1/verifications", args.seconds, wsgi)
            measure("HTTP POST (werkzeug, loopback)", args.seconds, http)
        finally:
            server.shutdown()
            server.server_close()
            services.database.dispose()
        verdict = "meets" if core >= 50 else "MISSES"
        print(f"target ≥ 50 verifications/s per core: {verdict} it (core, bare)")


if __name__ == "__main__":
    main()
