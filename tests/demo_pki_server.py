"""The demo PKI's CRL/OCSP/TSA (``service.web.demo_pki``) on 127.0.0.1:<free port>, for
tests that need certificates whose revocation pointers answer (pdfsig/NSS fetches OCSP)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from service.web import demo_pki
from signing.demo_services import DemoPkiServices


@contextmanager
def demo_pki_server(pki_dir: Path) -> Iterator[str]:
    """Serve the demo PKI of ``pki_dir`` (files may appear later); yields the base URL
    to give ``migdocs demo`` as ``MIGDOCS_BASE_URL``."""
    app = Flask(__name__)
    app.extensions["migdocs.demo_pki"] = DemoPkiServices(pki_dir)
    app.register_blueprint(demo_pki.bp)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
