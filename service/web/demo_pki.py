"""Blueprint ``demo_pki``: the demo PKI's CRLs, OCSP responder and RFC 3161 TSA.

Registered only with the setting ``demo_pki`` (``scripts/run.sh`` turns it on), under
``/demo-pki``:

* ``GET  /demo-pki/crl/<ca>.crl`` — the CA's current CRL (``application/pkix-crl``);
* ``POST /demo-pki/ocsp/<ca>`` — OCSP (RFC 6960, ``application/ocsp-request``), also
  ``GET /demo-pki/ocsp/<ca>/<base64 request>``;
* ``POST /demo-pki/tsa`` — timestamps (RFC 3161, ``application/timestamp-query``).

The answers come from :class:`signing.demo_services.DemoPkiServices` on the instance's
``pki/`` directory.  A production node leaves ``demo_pki`` off and uses the Parties'
accredited TSA/OCSP/CRL services.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from flask import Blueprint, Response, current_app, request

from service.errors import InputError, Violation
from signing.demo_services import DemoPkiServices, UnknownService

bp = Blueprint("demo_pki", __name__, url_prefix="/demo-pki")

MAX_REQUEST_BYTES = 64 * 1024
"""OCSP and timestamp requests are a few hundred bytes."""


def _services() -> DemoPkiServices:
    services: DemoPkiServices = current_app.extensions["migdocs.demo_pki"]
    return services


def _body(media_type: str) -> bytes:
    if request.mimetype != media_type:
        raise InputError(
            f"expected Content-Type {media_type}",
            (Violation(None, "Content-Type", f"{request.mimetype or 'none'} is not {media_type}"),),
        )
    data = request.get_data(cache=False)
    if not data or len(data) > MAX_REQUEST_BYTES:
        raise InputError(
            "empty or oversized request",
            (Violation(None, "body", f"{len(data)} bytes (1..{MAX_REQUEST_BYTES})"),),
        )
    return data


def _unknown(exc: UnknownService) -> Response:
    return Response(exc.message, status=404, mimetype="text/plain")


@bp.get("/crl/<ca>.crl")
def crl(ca: str) -> Response:
    try:
        return Response(_services().crl(ca), mimetype="application/pkix-crl")
    except UnknownService as exc:
        return _unknown(exc)


def _ocsp_answer(ca: str, data: bytes) -> Response:
    try:
        return Response(_services().ocsp(ca, data), mimetype="application/ocsp-response")
    except UnknownService as exc:
        return _unknown(exc)


@bp.post("/ocsp/<ca>")
def ocsp_post(ca: str) -> Response:
    return _ocsp_answer(ca, _body("application/ocsp-request"))


@bp.get("/ocsp/<ca>/<path:encoded>")
def ocsp_get(ca: str, encoded: str) -> Response:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            "OCSP GET request is not base64", (Violation(None, "path", "not base64"),)
        ) from None
    return _ocsp_answer(ca, data)


@bp.post("/tsa")
def tsa() -> Response:
    reply = asyncio.run(_services().timestamp(_body("application/timestamp-query")))
    return Response(reply, mimetype="application/timestamp-reply")
