"""A live node (the real app under a threaded WSGI server on 127.0.0.1:<free port>) with
the demo PKI whose certificates point at the node's own CRL/OCSP/TSA (``demo_pki``)."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from service.app import create_app
from service.domain.auth import create_api_key
from service.store.db import Database
from service.store.migrate import upgrade
from signing.demo import build_demo
from tests.verification.conftest import REQUEST, with_new_id


class _Dispatcher:
    """WSGI app whose target is set once the server knows its port."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class Node:
    base: str
    instance: Path
    database_url: str
    api_key: str
    app: Any

    def post_status(self, raw: bytes = REQUEST) -> tuple[int, dict[str, Any]]:
        """POST the XML (a fresh documentId); the status and the JSON body."""
        request = urllib.request.Request(
            f"{self.base}/api/v1/documents",
            data=with_new_id(raw),
            headers={"X-API-Key": self.api_key, "Content-Type": "application/xml"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def post(self, raw: bytes = REQUEST) -> dict[str, Any]:
        status, body = self.post_status(raw)
        assert status == 201, body
        return body

    @property
    def services(self) -> Any:
        return self.app.extensions["migdocs"]

    def set_level(self, level: str) -> None:
        """Sign from now on at ``level`` (the node's signer, as its settings would make it)."""
        from service.domain.signing_setup import signing_config

        settings = dataclasses.replace(self.services.settings, signature_level=level)
        self.services.signer.config = signing_config(settings)

    def verify(self, pdf: bytes, now: datetime | None = None) -> Any:
        """The node's own verifier (trust roots, registry, known documents) at ``now``."""
        from service.domain.verification import build_verifier

        return build_verifier(self.services.settings, self.services.database).verify(pdf, now)

    def env(self) -> dict[str, str]:
        """Environment for ``migdocs`` commands on this node."""
        return {
            "MIGDOCS_INSTANCE": str(self.instance),
            "DATABASE_URL": self.database_url,
            "MIGDOCS_BASE_URL": self.base,
            "MIGDOCS_DEMO_PKI": "true",
        }

    def pdf(self, body: dict[str, Any]) -> bytes:
        request = urllib.request.Request(
            self.base + body["links"]["pdf"], headers={"X-API-Key": self.api_key}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data: bytes = response.read()
        return data


def start_node(tmp: Path, level: str) -> Iterator[Node]:
    dispatcher = _Dispatcher()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, dispatcher, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    instance = tmp / "instance"
    url = f"sqlite:///{instance / 'migdocs.sqlite3'}"
    instance.mkdir(parents=True)
    database = Database(url)
    upgrade(database)
    build_demo(instance, url, f"{base}/demo-pki")
    with database.transaction() as session:
        _, key = create_api_key(session, "KZ-MVD", "long-term tests")
    database.dispose()
    app = create_app(
        {
            "instance_dir": str(instance),
            "database_url": url,
            "base_url": base,
            "demo_pki": True,
            "signature_level": level,
            "testing": True,
            "session_cookie_secure": False,
        }
    )
    dispatcher.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Node(base, instance, url, key, app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        app.extensions["migdocs"].database.dispose()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node signing B-LTA (its documents carry B-LT data and a document timestamp)."""
    yield from start_node(tmp_path_factory.mktemp("node-lta"), "B-LTA")
