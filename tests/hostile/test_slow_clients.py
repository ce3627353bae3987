"""Slow and odd clients against a real ``migdocs serve`` (issue 10 item 7).

One gunicorn worker; three clients trickle one byte a second (two in the body, one in the
headers).  Meanwhile ``/healthz`` and a small POST answer within 2 s, and each slow client
is cut off with ``408`` JSON once its deadline passes.  gunicorn's own errors are JSON.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.live_server import (
    LiveServer,
    RawResponse,
    live_server,
    read_response,
    request_bytes,
    send_all,
)
from tests.service.conftest import demo_template  # noqa: F401

HEADER_TIMEOUT = 3
BODY_TIMEOUT = 4


@pytest.fixture(scope="module")
def server(
    demo_template: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    with live_server(
        demo_template,
        tmp_path_factory.mktemp("slow"),
        workers=1,
        header_timeout=str(HEADER_TIMEOUT),
        body_timeout=str(BODY_TIMEOUT),
        threads="8",
    ) as running:
        yield running


class SlowClient(threading.Thread):
    """Sends ``head`` at once, then ``trickle`` one byte a second; records the answer."""

    def __init__(self, server: LiveServer, head: bytes, trickle: bytes) -> None:
        super().__init__(daemon=True)
        self.sock = server.connect(timeout=30)
        self.head, self.trickle = head, trickle
        self.response: RawResponse | None = None
        self.error: BaseException | None = None
        self.answered_after: float | None = None
        self.sent = 0

    def run(self) -> None:
        started = time.monotonic()
        reader = threading.Thread(target=self._read, daemon=True)
        try:
            self.sock.sendall(self.head)
            reader.start()
            for byte in self.trickle:
                if self.response is not None or self.error is not None:
                    break
                self.sock.sendall(bytes([byte]))
                self.sent += 1
                time.sleep(1)
        except OSError as exc:
            self.error = self.error or exc
        reader.join(timeout=30)
        self.answered_after = time.monotonic() - started
        self.sock.close()

    def _read(self) -> None:
        try:
            self.response = read_response(self.sock)
        except OSError as exc:
            self.error = exc


def timed_get(server: LiveServer, path: str) -> tuple[RawResponse, float]:
    started = time.monotonic()
    response = send_all(server, request_bytes("GET", path, {}), timeout=10)
    return response, time.monotonic() - started


def test_slow_clients_do_not_stall_the_service_and_get_408(server: LiveServer) -> None:
    body_head = request_bytes(
        "POST",
        "/api/v1/verifications",
        {"Content-Type": "application/pdf", "Content-Length": "1000"},
    )
    slow = [
        SlowClient(server, body_head, b"%PDF-1.7\n" + b"x" * 40),
        SlowClient(server, body_head, b"%PDF-1.7\n" + b"y" * 40),
        SlowClient(server, b"", request_bytes("GET", "/healthz", {"X-Slow": "y" * 40})),
    ]
    for client in slow:
        client.start()
    time.sleep(1.5)  # all three are connected and trickling now
    for _ in range(3):
        health, took = timed_get(server, "/healthz")
        assert health.status == 200 and took < 2, took
        post_started = time.monotonic()
        small = send_all(
            server,
            request_bytes(
                "POST",
                "/api/v1/verifications",
                {"Content-Type": "application/pdf", "Content-Length": "9"},
                b"not a pdf",
            ),
            timeout=10,
        )
        assert small.status == 200 and small.json()["file_kind"] == "not_pdf"
        assert time.monotonic() - post_started < 2
    for client in slow:
        client.join(timeout=30)
    for client, limit in zip(slow, (BODY_TIMEOUT, BODY_TIMEOUT, HEADER_TIMEOUT), strict=True):
        assert client.response is not None, (client.error, server.log.read_text()[-2000:])
        assert client.response.status == 408
        assert client.response.headers["content-type"].startswith("application/json")
        assert client.response.json()["error"] == "request_timeout"
        assert client.sent <= limit + 2  # cut off at its deadline, not after the whole body
        assert client.answered_after is not None and client.answered_after < limit + 4


def test_gunicorn_parse_errors_answer_json(server: LiveServer) -> None:
    garbage = send_all(server, b"GARBAGE\r\n\r\n")
    assert garbage.status == 400 and garbage.json()["error"] == "bad_request"
    long_line = send_all(server, request_bytes("GET", "/api/v1/documents?q=" + "a" * 9000, {}))
    assert long_line.status == 414 and long_line.json()["error"] == "uri_too_long"
    many = {f"X-H{i}": "v" for i in range(150)}
    too_many = send_all(server, request_bytes("GET", "/healthz", many))
    assert too_many.status == 431 and too_many.json()["error"] == "headers_too_large"


def test_an_idle_connection_is_closed_without_holding_a_thread(server: LiveServer) -> None:
    idle = [server.connect(timeout=30) for _ in range(12)]  # more than the 8 threads
    try:
        time.sleep(1)
        health, took = timed_get(server, "/healthz")
        assert health.status == 200 and took < 2
    finally:
        for sock in idle:
            sock.close()


def test_request_id_from_the_client_only_when_short_and_printable(server: LiveServer) -> None:
    def answer(value: bytes) -> RawResponse:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"X-Request-Id: " + value + b"\r\n\r\n"
            )
            return read_response(sock)

    assert answer(b"abc-123.XYZ").headers["x-request-id"] == "abc-123.XYZ"
    for bad in (b"x" * 65, b"a b", b"\xd0\xb8\xd0\xb4", b"ok\x7f"):
        response = answer(bad)
        if response.status == 400:  # gunicorn refuses some bytes itself: JSON then too
            assert response.json()["error"] == "bad_request", bad
            continue
        assert response.status == 200, bad
        replaced = response.headers["x-request-id"]
        assert replaced.encode() != bad and len(replaced) == 32, bad
