"""``migdocs serve`` on a node of a Party: the API, the mTLS peer listener
(``--peer-bind``) and the delivery worker(s), all from the one command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from service.config import load_settings
from service.exchange.companions import companion_commands
from service.exchange.peers import add_peer
from service.store.exchange_tables import Incoming

from .conftest import Node, Nodes, request_xml


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def _companions(pid: int) -> list[str]:
    """``peer listen …`` / ``worker``: the children started as ``python -m service …``
    (the gunicorn worker is a child too)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            args = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
            if args[1:3] == ["-m", "service"] and args[3] in ("peer", "worker"):
                found.append(child + " " + " ".join(args[3:]).strip())
    return sorted(found, key=lambda c: c.split(" ", 1)[1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _serve(node: Node, tmp_path: Path, api: int, peer: int) -> subprocess.Popen[bytes]:
    s = node.services.settings
    config = tmp_path / f"{node.party.lower()}.toml"
    values = {
        "instance_dir": s.instance_dir,
        "database_url": s.database_url,
        "party": node.party,
        "node_cert": s.node_cert,
        "node_key": s.node_key,
        "seal_pkcs12": s.seal_pkcs12,
        "trust_roots": s.trust_roots,
        "session_cookie_secure": "false",
    }
    config.write_text(
        "\n".join(f"{k} = {json.dumps(str(v))}" for k, v in values.items())
        + "\ndelivery_backoff_seconds = 1\ndelivery_workers = 1\ngraceful_timeout = 5\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGDOCS_")}
    env.update(MIGDOCS_CONFIG=str(config), PYTHONPATH=str(Path.cwd()))
    args = [sys.executable, "-m", "service", "serve", "--workers", "1"]
    args += ["--bind", f"127.0.0.1:{api}", "--peer-bind", f"127.0.0.1:{peer}"]
    with (tmp_path / f"{node.party.lower()}.log").open("wb") as log:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def _http(url: str, key: str, body: bytes | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST" if body else "GET",
        headers={"X-API-Key": key, "Content-Type": "application/xml"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_serve_runs_the_peer_listener_and_the_delivery_worker(
    sqlite_nodes: Nodes, tmp_path: Path
) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    for node in (kz, by):
        node.stop()  # the in-process listeners of the fixture: `serve` replaces them
    ports = {p: (_free_port(), _free_port()) for p in ("KZ", "BY")}
    for here, there in ((kz, by), (by, kz)):
        with here.services.database.transaction() as session:
            add_peer(
                session,
                there.party,
                f"https://127.0.0.1:{ports[there.party][1]}",
                there.identity.root.read_text(),
                there.identity.cert.read_text(),
            )
    servers = {n.party: _serve(n, tmp_path, *ports[n.party]) for n in (kz, by)}
    try:
        for party, process in servers.items():
            for port in ports[party]:
                _wait_for(port, process)
        kz_api = f"http://127.0.0.1:{ports['KZ'][0]}"
        status, sent = _http(f"{kz_api}/api/v1/documents", kz.keys["KZ-MTSZN"], request_xml())
        assert status == 201
        # Nobody runs a worker here but `serve`: the document must still reach BY.
        deadline = time.monotonic() + 90
        delivery: dict[str, object] = {}
        while time.monotonic() < deadline:
            _, delivery = _http(
                f"{kz_api}/api/v1/documents/{sent['id']}/delivery", kz.keys["KZ-MTSZN"]
            )
            if delivery["status"] != "pending":
                break
            time.sleep(0.3)
        assert delivery["status"] == "delivered", delivery
        _, inbox = _http(f"http://127.0.0.1:{ports['BY'][0]}/api/v1/inbox", by.keys["BY-MVD"])
        items = inbox["items"]
        assert isinstance(items, list) and len(items) == 1
        assert items[0]["registration_number"] == sent["registration_number"]
        with by.services.database.reading() as session:
            assert session.query(Incoming).count() == 1

        # Stopping `serve` stops its listener and workers too.
        companions = _companions(servers["KZ"].pid)
        assert [c.split(" ", 1)[1] for c in companions] == [
            f"peer listen --bind 127.0.0.1:{ports['KZ'][1]}",
            "worker",
        ]
        children = [int(c.split(" ", 1)[0]) for c in companions]
        servers["KZ"].send_signal(signal.SIGTERM)
        servers["KZ"].wait(60)
        deadline = time.monotonic() + 30
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(c) for c in children)
    finally:
        for process in servers.values():
            if process.poll() is None:
                process.terminate()
                process.wait(60)


def test_companions_follow_the_settings() -> None:
    single = load_settings({"instance_dir": "/nonexistent", "secret_key": "x"})
    assert companion_commands(single, "127.0.0.1:8443") == []  # single node: none
    node = load_settings({"instance_dir": "/nonexistent", "secret_key": "x", "party": "KZ"})
    assert companion_commands(node, "127.0.0.1:8443") == [
        ["peer", "listen", "--bind", "127.0.0.1:8443"],
        ["worker"],
    ]
    none = load_settings(
        {"instance_dir": "/nonexistent", "secret_key": "x", "party": "BY", "delivery_workers": 0}
    )
    assert companion_commands(none, None) == []
    two = load_settings(
        {"instance_dir": "/nonexistent", "secret_key": "x", "party": "BY", "delivery_workers": 2}
    )
    assert companion_commands(two, None) == [["worker"], ["worker"]]
