"""Webhooks per API key: a received document is announced to the recipient's upstream
system by a signed POST (HMAC-SHA256), retried until it answers 2xx, deliveries listed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.exchange.webhooks import signature

from .conftest import Nodes, request_xml


class Receiver(ThreadingHTTPServer):
    """A local upstream system: answers the statuses in ``answers`` in turn, then 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.calls.append((dict(self.headers.items()), body))
        status = self.server.answers.pop(0) if self.server.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_received_documents_are_announced_by_signed_retried_webhooks(
    sqlite_nodes: Nodes, upstream: Receiver
) -> None:
    kz, by = sqlite_nodes.kz, sqlite_nodes.by
    key = {"X-API-Key": by.keys["BY-MVD"]}
    # Bad input is refused and nothing is registered.
    bad = by.client.post("/api/v1/webhooks", json={"url": "ftp://x"}, headers=key)
    assert bad.status_code == 400 and bad.get_json()["details"][0]["path"] == "/url"
    assert by.client.post("/api/v1/webhooks", data="x", headers=key).status_code == 415
    not_an_object = by.client.post("/api/v1/webhooks", json=["x"], headers=key)
    assert not_an_object.status_code == 400
    assert by.client.get("/api/v1/webhooks").status_code == 401
    assert by.client.get("/api/v1/webhooks", headers=key).get_json() == {"items": []}

    created = by.client.post("/api/v1/webhooks", json={"url": upstream.url}, headers=key)
    assert created.status_code == 201
    hook = created.get_json()
    secret = hook.pop("secret")
    assert len(secret) >= 32
    listed = by.client.get("/api/v1/webhooks", headers=key).get_json()["items"]
    assert listed == [hook]  # the secret is shown once
    # BY-GPK's key sees none of it (and registers its own elsewhere: not called here).
    other = {"X-API-Key": by.keys["BY-GPK"]}
    assert by.client.get("/api/v1/webhooks", headers=other).get_json() == {"items": []}
    assert by.client.get(hook["links"]["deliveries"], headers=other).status_code == 404

    upstream.answers = [500]  # the first attempt fails
    sent = kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1  # KZ → BY: BY stores and writes the webhook row
    by.worker.run_once()
    assert len(upstream.calls) == 1
    deliveries = by.client.get(hook["links"]["deliveries"], headers=key).get_json()["items"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in deliveries] == [
        ("pending", 1, 500)
    ]
    by.worker.run_once()
    assert len(upstream.calls) == 1  # backed off: not yet due
    by.worker.run_once(now=datetime.now(UTC) + timedelta(minutes=5))
    assert len(upstream.calls) == 2
    deliveries = by.client.get(hook["links"]["deliveries"], headers=key).get_json()["items"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in deliveries] == [
        ("delivered", 2, 200)
    ]

    (first_headers, first_body), (headers, body) = upstream.calls
    assert body == first_body
    assert headers["X-Migdocs-Delivery"] == first_headers["X-Migdocs-Delivery"]
    assert headers["X-Migdocs-Event"] == "document.received"
    stamp = headers["X-Migdocs-Timestamp"]
    assert headers["X-Migdocs-Signature"] == signature(secret, stamp, body)
    assert headers["X-Migdocs-Signature"] != signature("wrong", stamp, body)
    announced = json.loads(body)
    inbox = by.get("/api/v1/inbox", "BY-MVD").get_json()["items"]
    assert announced["document"]["registration_number"] == sent["registration_number"]
    assert announced["document"]["incoming_number"] == inbox[0]["incoming_number"]
    assert announced["document"]["links"]["self"] == inbox[0]["links"]["self"]
    assert by.client.get(announced["document"]["links"]["pdf"], headers=key).status_code == 200

    removed = by.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=key)
    assert removed.status_code == 204
    assert by.client.get("/api/v1/webhooks", headers=key).get_json() == {"items": []}
    kz.post(request_xml(), "KZ-MTSZN")
    assert kz.worker.run_once() == 1
    by.worker.run_once()
    assert len(upstream.calls) == 2  # nobody is told any more
