"""The peer listener under gunicorn (``--cert-reqs 2``): the app sees the client
certificate through ``gunicorn.socket`` and accepts only the registered peer node."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from service.exchange.delivery import NUMBER_HEADER, SHA256_HEADER
from service.exchange.peers import add_peer
from service.exchange.transport import client_context, post
from service.store.exchange_tables import DELIVERED, Delivery

from .conftest import Nodes, request_xml


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start listening")


def test_delivery_to_a_gunicorn_peer_listener(sqlite_nodes: Nodes, tmp_path: Path) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    s = by.services.settings
    config = tmp_path / "by.toml"
    config.write_text(
        "\n".join(
            f"{name} = {json.dumps(str(value))}"
            for name, value in (
                ("instance_dir", s.instance_dir),
                ("database_url", s.database_url),
                ("party", "BY"),
                ("node_cert", s.node_cert),
                ("node_key", s.node_key),
                ("seal_pkcs12", s.seal_pkcs12),
                ("trust_roots", s.trust_roots),
            )
        )
    )
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGDOCS_")}
    env.update(MIGDOCS_CONFIG=str(config), PYTHONPATH=str(Path.cwd()))
    args = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    args += ["--certfile", str(s.node_cert), "--keyfile", str(s.node_key)]
    args += ["--ca-certs", str(kz.identity.root), "--cert-reqs", "2", "service.wsgi:app"]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        gunicorn = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_for(port, gunicorn)
        with kz.services.database.transaction() as session:
            add_peer(
                session,
                "BY",
                f"https://127.0.0.1:{port}",
                by.identity.root.read_text(),
                by.identity.cert.read_text(),
            )
        sent = kz.post(request_xml(), "KZ-MTSZN")
        assert kz.worker.run_once() == 1
        with kz.services.database.reading() as session:
            row = session.get(Delivery, str(sent["id"]))
            assert row is not None
            assert row.status == DELIVERED, (row.last_error, log.read_text()[-3000:])
            assert row.incoming_number and row.incoming_number.startswith("IN-BY-MVD-")

        # The BY node's own certificate is not KZ's registered node certificate: refused
        # (here already by TLS: gunicorn trusts only the KZ root for client certificates).
        context = client_context(by.identity.cert, by.identity.key, by.identity.root.read_text())
        headers = {"Content-Type": "application/pdf", NUMBER_HEADER: "x", SHA256_HEADER: "y"}
        try:
            answer = post(f"https://127.0.0.1:{port}/peer/v1/deliveries", b"%PDF", headers, context)
        except Exception as exc:
            assert getattr(exc, "code", None) == "delivery_failed"
        else:
            assert answer.status == 403
    finally:
        gunicorn.terminate()
        gunicorn.wait(20)
