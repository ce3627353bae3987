"""Blueprint ``exchange_forms``: sample forms exchanged with the peer node (Art. 9.3, 9.4).

* ``POST /peer/v1/forms`` — the peer node only (its registered TLS client certificate):
  body the signed form PDF, headers ``X-Migdocs-Document-Type``, ``X-Migdocs-Authority``,
  ``X-Migdocs-Form-Version``; ``200`` JSON with the received-at (also for the same file
  again), ``422 form_refused`` with the reasons (:mod:`service.exchange.form_registry`);
* ``GET /api/v1/exchange/forms`` — API key or officer: the versions sent (status,
  attempts, sent-at, the peer's received-at) and received (type, authority, version,
  signer, signed-at, received-at, link to the PDF as received);
* ``GET /exchange/forms/<sha256>.pdf`` — a received form as it arrived;
* ``/exchange/forms`` — the officers' page.

Kept apart from :mod:`service.exchange.views` (the documents' and lists' routes) to keep
modules small; it reuses its peer check and its receiver's verifier.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from service.errors import InputError, NotFound, UnsupportedMediaType, Violation
from service.exchange.form_registry import DeclaredForm, receive_form, storage_key
from service.exchange.forms import FORM_VERSION_HEADER, TYPE_HEADER, overview
from service.exchange.lists import AUTHORITY_HEADER
from service.exchange.views import LIST_STATUS_TITLES, calling_peer, receiver
from service.web.context import services
from service.web.openapi import error_responses, json_response, register_paths
from service.web.pagekit import officer_required, page
from service.web.principal import current_principal

bp = Blueprint("exchange_forms", __name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FORM = {
    "document_type": {"type": "string"},
    "authority": {"type": "string"},
    "version": {"type": "string"},
    "party": {"type": "string", "enum": ["KZ", "BY"]},
    "signed_by": {"type": "string"},
    "sha256": {"type": "string"},
}
"""Fields of a sample form in both directions."""
_SENT = {
    "type": "object",
    "properties": {
        **_FORM,
        "status": {"type": "string", "enum": ["pending", "delivered", "refused"]},
        "attempts": {"type": "integer"},
        "queued_at": {"type": "string", "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
        "received_at": {"type": ["string", "null"], "format": "date-time"},
        "last_error": {"type": ["string", "null"]},
    },
}
_RECEIVED = {
    "type": "object",
    "properties": {
        **_FORM,
        "signed_at": {"type": "string", "format": "date-time"},
        "received_at": {"type": "string", "format": "date-time"},
        "pdf": {"type": "string", "description": "The PDF as received"},
    },
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/exchange/forms": {
        "get": {
            "summary": "Signed sample forms sent to the peer node and received from it "
            "(Art. 9.3, 9.4): every version, status, when sent and received",
            "operationId": "getExchangedForms",
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "properties": {
                            "sent": {"type": "array", "items": _SENT},
                            "received": {"type": "array", "items": _RECEIVED},
                        },
                    },
                    "Sent and received versions, newest first",
                ),
                **error_responses(401),
            },
        }
    }
}
"""This blueprint's API route in the OpenAPI document (the peer endpoint is not public)."""
register_paths(__name__, OPENAPI_PATHS)


def _declared() -> DeclaredForm:
    values = {
        name: (request.headers.get(name) or "").strip()[:64]
        for name in (TYPE_HEADER, AUTHORITY_HEADER, FORM_VERSION_HEADER)
    }
    missing = tuple(
        Violation(None, f"header {name}", "missing") for name, value in values.items() if not value
    )
    if missing:
        raise InputError("a sample form without its type, authority and version", missing)
    return DeclaredForm(
        values[TYPE_HEADER], values[AUTHORITY_HEADER][:32], values[FORM_VERSION_HEADER][:16]
    )


@bp.post("/peer/v1/forms")
def receive_sample_form() -> Response:
    """A signed sample form of the peer's Party (Art. 9.3)."""
    peer = calling_peer()
    if request.mimetype != "application/pdf":
        raise UnsupportedMediaType(f"send the PDF as application/pdf, not {request.mimetype}")
    declared = _declared()
    s = services()
    got = receive_form(
        s.database,
        s.storage,
        receiver().verifier,
        peer,
        declared,
        request.get_data(cache=False),
    )
    return jsonify(
        {
            "document_type": got.form.document_type,
            "authority": got.form.authority,
            "version": got.form.version,
            "sha256": got.sha256,
            "signed_by": got.signatory_id,
            "signed_at": got.signed_at.isoformat(),
            "received_at": got.received_at.isoformat(),
            "repeated": got.repeated,
        }
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@bp.get("/api/v1/exchange/forms")
def exchanged_forms() -> Response:
    current_principal()
    sent, received = overview(services().database)
    return jsonify(
        {
            "sent": [
                {
                    "document_type": p.document_type,
                    "authority": p.authority,
                    "version": p.form_version,
                    "party": p.party,
                    "signed_by": p.signatory_id,
                    "sha256": p.pdf_sha256,
                    "status": p.status,
                    "attempts": p.attempts,
                    "queued_at": _iso(p.created_at),
                    "sent_at": _iso(p.sent_at),
                    "received_at": _iso(p.received_at),
                    "last_error": p.last_error,
                }
                for p in sent
            ],
            "received": [
                {
                    "document_type": r.document_type,
                    "authority": r.authority,
                    "version": r.form_version,
                    "party": r.party,
                    "signed_by": r.signatory_id,
                    "signed_at": _iso(r.signed_at),
                    "received_at": _iso(r.received_at),
                    "sha256": r.pdf_sha256,
                    "pdf": url_for("exchange_forms.received_form_pdf", sha256=r.pdf_sha256),
                }
                for r in received
            ],
        }
    )


@bp.get("/exchange/forms/<sha256>.pdf")
def received_form_pdf(sha256: str) -> Response:
    """A received form as it arrived (API key or officer)."""
    current_principal()
    key = storage_key(sha256)
    if not _SHA256.fullmatch(sha256) or not services().storage.exists(key):
        raise NotFound("no sample form with this SHA-256 was received")
    return Response(
        services().storage.get(key),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="obrazec-{sha256[:16]}.pdf"'},
    )


@bp.get("/exchange/forms")
@officer_required
def exchanged_forms_page() -> tuple[str, int]:
    sent, received = overview(services().database)
    return page(
        "exchange_forms.html", sent=sent, received=received, status_titles=LIST_STATUS_TITLES
    )
