"""Two real nodes (KZ and BY): each its own instance directory, database, node
certificate and seal, and a real mTLS peer listener on an ephemeral 127.0.0.1 port."""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer

from service.app import create_app
from service.domain.auth import create_api_key
from service.exchange.delivery import DeliveryWorker
from service.exchange.nodecert import NodeIdentity, issue_node_identity
from service.exchange.peers import add_peer
from service.exchange.transport import make_peer_server, server_context
from service.paths import SAMPLES_DIR
from service.store.migrate import upgrade
from service.web.context import Services
from signing.demo import build_demo
from tests.service.conftest import _postgres_database, _upgrade, demo_template  # noqa: F401

AUTHORITIES = {"KZ": ("KZ-MVD", "KZ-MTSZN"), "BY": ("BY-MVD", "BY-GPK")}


def request_xml() -> bytes:
    """The KZ-MTSZN → BY-MVD sample request with a fresh documentId."""
    raw = (SAMPLES_DIR / "request-legislation.xml").read_bytes()
    return re.sub(
        rb"<documentId>[^<]+</documentId>",
        f"<documentId>{uuid.uuid4()}</documentId>".encode(),
        raw,
        count=1,
    )


@dataclass
class Node:
    party: str
    app: Flask
    client: FlaskClient
    services: Services
    instance: Path
    identity: NodeIdentity
    keys: dict[str, str]
    worker: DeliveryWorker
    server: BaseWSGIServer | None = None
    port: int = 0
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, peer_root_pem: str) -> None:
        """Serve the peer listener (mTLS) on its port (a new one the first time)."""
        context = server_context(self.identity.cert, self.identity.key, peer_root_pem)
        self.server = make_peer_server(self.app, f"127.0.0.1:{self.port}", context)
        self.port = self.server.port
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        for thread in self.threads:
            thread.join(10)
        self.threads.clear()

    def post(self, raw: bytes, authority: str) -> dict[str, object]:
        response = self.client.post(
            "/api/v1/documents",
            data=raw,
            headers={"X-API-Key": self.keys[authority], "Content-Type": "application/xml"},
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        assert isinstance(body, dict)
        return body

    def get(self, path: str, authority: str, **query: str):  # type: ignore[no-untyped-def]
        return self.client.get(
            path, query_string=query, headers={"X-API-Key": self.keys[authority]}
        )


def make_node(template: Path, base: Path, party: str, database_url: str) -> Node:
    instance = base / party.lower()
    shutil.copytree(template, instance, dirs_exist_ok=True)
    if not database_url.startswith("sqlite"):
        _upgrade(database_url)
        build_demo(instance, database_url)
    identity = issue_node_identity(instance, party)
    app = create_app(
        {
            "instance_dir": str(instance),
            "database_url": database_url,
            "testing": True,
            "session_cookie_secure": False,
            "party": party,
            "node_cert": str(identity.cert),
            "node_key": str(identity.key),
            "seal_pkcs12": str(identity.seal_pkcs12),
            "trust_roots": ",".join(str(instance / "pki" / f"{p}-root.pem") for p in ("kz", "by")),
            "delivery_backoff_seconds": 1,
        }
    )
    services: Services = app.extensions["migdocs"]
    upgrade(services.database)
    keys = {}
    with services.database.transaction() as session:
        for authority in AUTHORITIES[party]:
            _, keys[authority] = create_api_key(session, authority, f"tests {authority}")
    # Sample forms of one type only: the worker publishes every type's in production, and
    # 2 × 17 signed forms per round would only slow these tests down.
    worker = DeliveryWorker(
        services.settings, services.database, services.storage, form_types=("request",)
    )
    return Node(party, app, app.test_client(), services, instance, identity, keys, worker)


def peer_up(kz: Node, by: Node) -> None:
    """Start both peer listeners and register each node at the other."""
    kz.start(by.identity.root.read_text())
    by.start(kz.identity.root.read_text())
    for here, there in ((kz, by), (by, kz)):
        with here.services.database.transaction() as session:
            add_peer(
                session,
                there.party,
                there.url,
                there.identity.root.read_text(),
                there.identity.cert.read_text(),
            )


@dataclass
class Nodes:
    kz: Node
    by: Node


def _nodes(kind: str, template: Path, base: Path) -> Iterator[Nodes]:
    generators: list[Iterator[str]] = []
    if kind == "sqlite":
        urls = [f"sqlite:///{base / p / 'migdocs.sqlite3'}" for p in ("kz", "by")]
    else:
        generators = [_postgres_database(), _postgres_database()]
        urls = [next(g) for g in generators]
    kz = make_node(template, base, "KZ", urls[0])
    by = make_node(template, base, "BY", urls[1])
    try:
        peer_up(kz, by)
        yield Nodes(kz, by)
    finally:
        for node in (kz, by):
            node.stop()
            node.services.database.dispose()
        for generator in generators:
            for _ in generator:
                pass


@pytest.fixture(params=["sqlite", "postgresql"])
def nodes(
    request: pytest.FixtureRequest,
    demo_template: Path,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Nodes]:
    """KZ and BY nodes, peered, on two SQLite files or two PostgreSQL databases."""
    yield from _nodes(request.param, demo_template, tmp_path)


@pytest.fixture
def sqlite_nodes(demo_template: Path, tmp_path: Path) -> Iterator[Nodes]:  # noqa: F811
    """KZ and BY nodes on two SQLite files."""
    yield from _nodes("sqlite", demo_template, tmp_path)


@pytest.fixture
def postgres_nodes(demo_template: Path, tmp_path: Path) -> Iterator[Nodes]:  # noqa: F811
    """KZ and BY nodes on two PostgreSQL databases."""
    yield from _nodes("postgresql", demo_template, tmp_path)
