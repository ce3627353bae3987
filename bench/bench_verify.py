"""Verification benchmark: verifications per second for a 1-signature, 2-page document.

    python bench/bench_verify.py [--seconds 3]
    python bench/bench_verify.py --compare /tmp/old-tree [--rounds 3] [--seconds 2]

Builds a throw-away demo instance, has the service sign ``samples/request-photo.xml``
(2 pages, photo, source XML embedded), then, one request at a time (= per core):

* ``core, bare`` — :func:`signing.verification.verify_document` with trust roots only;
* ``core, full`` — what the service runs: + registry check, known-document lookup and
  schema validation of the embedded XML (SQLite);
* ``WSGI`` — ``POST /api/v1/verifications`` through Flask's test client (+ audit write);
* ``HTTP`` — the same over loopback to ``migdocs serve`` (gunicorn, 1 worker), on one
  keep-alive connection and with a new connection per request (urllib).

Each line gives the wall-clock rate and the rate per CPU second (this process's CPU
time; for HTTP the server worker's) — on a shared machine the latter is the stable one.

``--compare DIR`` runs this benchmark for the tree in ``DIR`` (e.g. an older commit,
``git archive <commit> | tar -x -C DIR``) and for this tree in two processes at once,
taking the measurements alternately, and prints both with the ratio.

Targets (issue 9): full check ≥ 100 verifications/s per core, HTTP ≥ 50/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TREE = Path(os.environ.get("BENCH_VERIFY_TREE") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(TREE))

from werkzeug.serving import make_server  # noqa: E402

from service.app import create_app  # noqa: E402
from service.domain.auth import create_api_key  # noqa: E402
from service.domain.verification import Verifier, build_verifier  # noqa: E402
from service.paths import SAMPLES_DIR  # noqa: E402
from service.store.db import Database  # noqa: E402
from service.store.migrate import upgrade  # noqa: E402
from signing.demo import build_demo  # noqa: E402
from signing.verification import Indication, verify_document  # noqa: E402

KINDS = ("bare", "full", "wsgi", "http", "http-new", "werkzeug")
LABELS = {
    "bare": "core, bare (trust roots only)",
    "full": "core, full (registry, XML, known)",
    "wsgi": "WSGI POST /api/v1/verifications",
    "http": "HTTP gunicorn, keep-alive",
    "http-new": "HTTP gunicorn, new connection each",
    "werkzeug": "HTTP werkzeug, new connection each",
}
TARGETS = {"full": 100.0, "http": 50.0, "http-new": 50.0}


@dataclass
class BenchSetup:
    """A demo instance with one signed document, its app and verifier."""

    instance: Path
    url: str
    app: Any
    client: Any
    verifier: Verifier
    pdf: bytes
    describe: str
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.app.extensions["migdocs"].database.dispose()


def build_setup(instance: Path) -> BenchSetup:
    url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
    database = Database(url)
    upgrade(database)
    database.dispose()
    build_demo(instance, url)
    app = create_app({"instance_dir": str(instance), "testing": True})
    logging.getLogger("migdocs.http").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
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
    describe = (
        f"document: {created['registration_number']}, {created['page_count']} pages, "
        f"{len(pdf)} bytes, 1 signature (RSA-3072, PAdES B-B)"
    )
    verifier = build_verifier(services.settings, services.database)
    return BenchSetup(instance, url, app, client, verifier, pdf, describe)


# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and of its children still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids.extend(int(c) for c in children)
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int

    def cpu(self) -> float:
        return _cpu_seconds(self.process.pid)


def start_gunicorn(setup: BenchSetup) -> Gunicorn:
    """``python -m service serve --workers 1`` on the bench instance."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(TREE),
        "MIGDOCS_INSTANCE": str(setup.instance),
        "DATABASE_URL": setup.url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=TREE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("migdocs serve did not start")
        time.sleep(0.2)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=30)

    setup.closers.append(stop)
    return Gunicorn(process, port)


def start_werkzeug(setup: BenchSetup) -> int:
    server = make_server("127.0.0.1", 0, setup.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    setup.closers.append(stop)
    return int(server.server_port)


# --------------------------------------------------------------------------- runs


def runners(setup: BenchSetup) -> dict[str, tuple[Callable[[], Indication], Callable[[], float]]]:
    """Each kind: one verification, and the CPU clock that pays for it."""
    pdf, verifier, client = setup.pdf, setup.verifier, setup.client
    gunicorn = start_gunicorn(setup)
    werkzeug_port = start_werkzeug(setup)
    path = "/api/v1/verifications"
    headers = {"Content-Type": "application/pdf"}
    keep_alive = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=30)
    setup.closers.append(keep_alive.close)

    def indication(body: bytes) -> Indication:
        return Indication(json.loads(body)["indication"])

    def bare() -> Indication:
        return verify_document(pdf, trust_roots=verifier.roots, registry_lookup=None).indication

    def full() -> Indication:
        return verifier.verify(pdf).indication

    def wsgi() -> Indication:
        return indication(client.post(path, data=pdf, content_type="application/pdf").data)

    def http_keep_alive() -> Indication:
        for attempt in (1, 2):  # the server closes a connection idle for `keepalive` s
            try:
                keep_alive.request("POST", path, body=pdf, headers=headers)
                return indication(keep_alive.getresponse().read())
            except (ConnectionError, http.client.HTTPException):
                keep_alive.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def new_connection(port: int) -> Callable[[], Indication]:
        def run() -> Indication:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", data=pdf, headers=headers
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return indication(response.read())

        return run

    here = time.process_time
    return {
        "bare": (bare, here),
        "full": (full, here),
        "wsgi": (wsgi, here),
        "http": (http_keep_alive, gunicorn.cpu),
        "http-new": (new_connection(gunicorn.port), gunicorn.cpu),
        "werkzeug": (new_connection(werkzeug_port), here),
    }


def measure(
    seconds: float, run: Callable[[], Indication], cpu: Callable[[], float]
) -> dict[str, float]:
    for _ in range(3):
        assert run() is Indication.TOTAL_PASSED
    count, start, cpu_start = 0, time.perf_counter(), cpu()
    while (elapsed := time.perf_counter() - start) < seconds:
        run()
        count += 1
    cpu_used = max(cpu() - cpu_start, 1e-9)
    return {"wall": count / elapsed, "cpu": count / cpu_used, "runs": count}


def line(kind: str, result: dict[str, float]) -> str:
    return (
        f"{LABELS[kind]:<36} {result['wall']:7.1f} /s wall  {result['cpu']:7.1f} /s per CPU "
        f"second   ({result['runs']:.0f} runs)"
    )


def serve_commands() -> None:
    """``--serve``: measure on request, one JSON line per command (for ``--compare``)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    with tempfile.TemporaryDirectory(prefix="migdocs-bench-verify-") as tmp:
        setup = build_setup(Path(tmp))
        try:
            table = runners(setup)
            protocol.write(json.dumps({"describe": setup.describe}) + "\n")
            for command in sys.stdin:
                kind, seconds = command.split()
                protocol.write(json.dumps(measure(float(seconds), *table[kind])) + "\n")
        finally:
            setup.close()


def compare(old_tree: Path, kinds: list[str], rounds: int, seconds: float) -> None:
    script = Path(__file__).resolve()
    trees = {"before": old_tree.resolve(), "after": TREE}
    children = {
        name: subprocess.Popen(
            [sys.executable, str(script), "--serve"],
            env={**os.environ, "BENCH_VERIFY_TREE": str(tree), "PYTHONPATH": str(tree)},
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, tree in trees.items()
    }
    try:
        for name, child in children.items():
            assert child.stdout is not None
            print(f"{name}: {trees[name]}: {json.loads(child.stdout.readline())['describe']}")
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for r in range(rounds):
            for kind in kinds:
                order = list(children) if r % 2 == 0 else list(reversed(children))
                for name in order:
                    child = children[name]
                    assert child.stdin is not None and child.stdout is not None
                    child.stdin.write(f"{kind} {seconds}\n")
                    child.stdin.flush()
                    results.setdefault((kind, name), []).append(json.loads(child.stdout.readline()))
        print(f"\n{'':36} {'before':>20} {'after':>20} {'after/before':>13}   (median of {rounds})")
        for kind in kinds:
            cells = []
            medians = {}
            for name in trees:
                wall = statistics.median(x["wall"] for x in results[(kind, name)])
                cpu = statistics.median(x["cpu"] for x in results[(kind, name)])
                medians[name] = cpu
                cells.append(f"{wall:6.1f} ({cpu:6.1f}) /s")
            ratio = medians["after"] / medians["before"]
            print(f"{LABELS[kind]:<36} {cells[0]:>20} {cells[1]:>20} {ratio:12.2f}x")
        print("\nwall rate (rate per CPU second); the ratio is of the rates per CPU second")
    finally:
        for child in children.values():
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    parser.add_argument("--compare", type=Path, help="tree of the version to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="with --compare")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if args.serve:
        serve_commands()
        return
    if args.compare:
        compare(args.compare, kinds, args.rounds, args.seconds)
        return
    with tempfile.TemporaryDirectory(prefix="migdocs-bench-verify-") as tmp:
        setup = build_setup(Path(tmp))
        try:
            print(setup.describe)
            table = runners(setup)
            results = {kind: measure(args.seconds, *table[kind]) for kind in kinds}
        finally:
            setup.close()
    for kind, result in results.items():
        print(line(kind, result))
    for kind, target in TARGETS.items():
        if kind in results:
            rate = results[kind]["cpu"]
            verdict = "meets" if rate >= target else "MISSES"
            print(f"target ≥ {target:g}/s per core, {LABELS[kind]}: {verdict} it ({rate:.1f})")


if __name__ == "__main__":
    main()
