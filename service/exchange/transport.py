"""Node-to-node transport: mutually authenticated TLS over HTTP/1.1 (standard library).

* :func:`server_context` — the peer listener: our node certificate, and client
  certificates required, verified against the registered peers' trust roots;
* :func:`client_context` — a delivery: our node certificate as client certificate, the
  peer's server certificate verified against *its* Party's roots and its host name;
* :func:`client_certificate` — the verified client certificate of the current request,
  from the WSGI environ: Werkzeug's server puts it in ``SSL_CLIENT_CERT`` (PEM),
  gunicorn (``--cert-reqs 2``) exposes the TLS socket as ``gunicorn.socket``;
* :func:`make_peer_server` — a threaded Werkzeug server with that context.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from service.exchange.errors import DeliveryFailed, ExchangeUnavailable


def _load_identity(context: ssl.SSLContext, cert: Path | None, key: Path | None) -> None:
    if cert is None or key is None:
        raise ExchangeUnavailable(
            "this node has no TLS identity: set node_cert and node_key (PEM files)"
        )
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ExchangeUnavailable(
            f"cannot load the node certificate {cert} / key {key}: {exc}"
        ) from None


def server_context(cert: Path | None, key: Path | None, peer_roots_pem: str) -> ssl.SSLContext:
    """TLS ≥ 1.2 server context that requires a client certificate from a peer's Party."""
    if not peer_roots_pem.strip():
        raise ExchangeUnavailable("no peer registered: `migdocs peer add` first")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_identity(context, cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=peer_roots_pem)
    return context


def client_context(cert: Path | None, key: Path | None, peer_roots_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=peer_roots_pem)
    _load_identity(context, cert, key)
    return context


@dataclass(frozen=True)
class PeerResponse:
    status: int
    content_type: str
    body: bytes


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    context: ssl.SSLContext,
    timeout: float = 60.0,
) -> PeerResponse:
    """POST ``body`` to ``url`` over mTLS; any transport failure is :class:`DeliveryFailed`."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname is None:
        raise DeliveryFailed(f"peer URL {url!r} is not https")
    connection = http.client.HTTPSConnection(
        parts.hostname, parts.port or 443, context=context, timeout=timeout
    )
    try:
        connection.request("POST", parts.path or "/", body=body, headers=dict(headers))
        response = connection.getresponse()
        data = response.read()
        return PeerResponse(response.status, response.getheader("Content-Type") or "", data)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()


def client_certificate(environ: Mapping[str, Any]) -> bytes | None:
    """DER of the TLS client certificate of this request (verified by the listener)."""
    pem = environ.get("SSL_CLIENT_CERT")
    if isinstance(pem, str) and pem:
        return ssl.PEM_cert_to_DER_cert(pem)
    sock = environ.get("gunicorn.socket")
    if isinstance(sock, ssl.SSLSocket):
        der = sock.getpeercert(binary_form=True)
        return der or None
    return None


def make_peer_server(app: Flask, bind: str, context: ssl.SSLContext) -> BaseWSGIServer:
    """The peer listener (threaded); ``serve_forever()`` it, ``shutdown()`` to stop."""
    host, _, port = bind.rpartition(":")
    return make_server(host or "127.0.0.1", int(port), app, threaded=True, ssl_context=context)
