"""A real ``migdocs serve`` (gunicorn) on 127.0.0.1 for the hostile-client tests, and a
raw-socket HTTP helper (urllib cannot send slowly, nor chunked bodies of our choosing)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.domain.auth import create_api_key
from service.store.db import Database


@dataclass
class LiveServer:
    host: str
    port: int
    api_key: str
    log: Path
    arbiter: int = 0
    """pid of the gunicorn arbiter (its workers are its forked children)."""

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self, timeout: float = 15.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(
    demo_template: Path, tmp_path: Path, workers: int = 1, **settings: str
) -> Iterator[LiveServer]:
    """``python -m service serve`` on a copy of the demo instance (SQLite)."""
    instance = tmp_path / "instance"
    shutil.copytree(demo_template, instance, dirs_exist_ok=True)
    url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
    database = Database(url)
    with database.transaction() as db:
        _, key = create_api_key(db, "KZ-MVD", "hostile tests")
    database.dispose()
    port = free_port()
    env = {
        **os.environ,
        "MIGDOCS_INSTANCE": str(instance),
        "DATABASE_URL": url,
        **{f"MIGDOCS_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
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
        server = LiveServer("127.0.0.1", port, key, log_path, process.pid)
        try:
            _wait_until_up(server, process)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_up(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{server.base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("server did not start:\n" + server.log.read_text())
        time.sleep(0.2)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def read_response(sock: socket.socket) -> RawResponse:
    """One HTTP/1.1 response with a Content-Length (all our answers have one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawResponse(status, headers, body)


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 65536) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def send_all(server: LiveServer, raw: bytes, timeout: float = 30.0) -> RawResponse:
    """Send a whole request at once and read the answer (ignoring a reset after it)."""
    with server.connect(timeout) as sock:
        # The server may answer 413 and close before it has read everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        return read_response(sock)
