"""Blueprint ``exchange``: the peer endpoint and the recipient's API.

* ``POST /peer/v1/deliveries`` — the peer node only (its registered TLS client
  certificate; served on the mTLS peer listener): body the signed PDF, headers
  ``X-Migdocs-Registration-Number`` and ``X-Migdocs-SHA256``; answer ``200`` with the
  signed receipt PDF (positive or negative, header ``X-Migdocs-Outcome``);
* ``GET /api/v1/inbox?after=<cursor>&limit=N`` — documents received for the caller's
  authority, in receipt order;
* ``GET /api/v1/documents/<id>/delivery`` and ``…/receipt`` — delivery state and the signed
  receipt of a document (sent or received).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from service.domain.verification import build_verifier
from service.errors import Forbidden, InputError, NotFound, UnsupportedMediaType, Violation
from service.exchange import inbox, transport, webhooks
from service.exchange.delivery import NUMBER_HEADER, SHA256_HEADER
from service.exchange.errors import ExchangeUnavailable, PeerUnknown
from service.exchange.list_registry import (
    ExchangedListsLookup,
    PartyRegistryLookup,
    receive_list,
)
from service.exchange.list_registry import storage_key as received_list_key
from service.exchange.lists import AUTHORITY_HEADER, VERSION_HEADER, overview
from service.exchange.peers import peer_by_certificate
from service.exchange.receiving import Declared, Receiver
from service.exchange.status import delivery_json
from service.store.exchange_tables import Peer, receipt_key
from service.store.tables import StoredDocument
from service.web import params
from service.web.context import services
from service.web.httpinput import ascii_int
from service.web.openapi import error_responses, json_response, register_paths
from service.web.pagekit import officer_required, page
from service.web.principal import current_principal
from service.web.verify import seal, verifier

bp = Blueprint("exchange", __name__)

WEBHOOK_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": {
            "type": "string",
            "maxLength": 500,
            "pattern": webhooks.WEBHOOK_URL_PATTERN,
            "description": "http(s) URL told of every document received (POST, JSON)",
        }
    },
}

_HOOK_ID = {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}}
_DOC_ID = {"name": "document_id", "in": "path", "required": True, "schema": {"type": "string"}}
_RECEIPT = {
    "type": ["object", "null"],
    "properties": {
        "received_at": {"type": "string", "format": "date-time"},
        "incoming_number": {"type": ["string", "null"]},
        "sha256": {"type": ["string", "null"]},
        "links": {"type": "object"},
    },
}
_DELIVERY = {
    "type": "object",
    "required": ["direction", "status", "receipt"],
    "properties": {
        "direction": {"type": "string", "enum": ["outgoing", "incoming"]},
        "party": {"type": "string", "enum": ["KZ", "BY"]},
        "status": {
            "type": "string",
            "enum": ["pending", "delivered", "refused", "failed", "received"],
        },
        "attempts": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "next_attempt_at": {"type": "string", "format": "date-time"},
        "receipt": _RECEIPT,
    },
}
_INBOX_ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "registration_number": {"type": "string"},
        "incoming_number": {"type": "string"},
        "received_at": {"type": "string", "format": "date-time"},
        "document_type": {"type": "string"},
        "sender": {"type": "string"},
        "recipient": {"type": "string"},
        "sha256": {"type": "string"},
        "indication": {"type": "string"},
        "links": {"type": "object"},
    },
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/inbox": {
        "get": {
            "summary": "Documents received from the peer node for the caller's authority, "
            "in order of receipt",
            "operationId": "getInbox",
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "Opaque cursor: `next` of the previous page",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": inbox.MAX_LIMIT},
                },
            ],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "properties": {
                            "items": {"type": "array", "items": _INBOX_ITEM},
                            "next": {"type": ["string", "null"]},
                        },
                    },
                    "One page of received documents",
                ),
                **error_responses(400, 401),
            },
        }
    },
    "/api/v1/documents/{document_id}/delivery": {
        "get": {
            "summary": "Delivery to the peer node (outgoing) or receipt (incoming)",
            "operationId": "getDelivery",
            "parameters": [_DOC_ID],
            "responses": {
                "200": json_response(_DELIVERY, "Delivery state"),
                **error_responses(401, 404),
            },
        }
    },
    "/api/v1/documents/{document_id}/receipt": {
        "get": {
            "summary": "The signed receipt («Уведомление о получении»), PDF/A",
            "operationId": "getReceipt",
            "parameters": [_DOC_ID],
            "responses": {
                "200": {
                    "description": "Receipt sealed by the receiving node",
                    "content": {"application/pdf": {"schema": {"type": "string"}}},
                },
                **error_responses(401, 404),
            },
        }
    },
    "/api/v1/exchange/lists": {
        "get": {
            "summary": "Signatory lists sent to the peer node and received from it "
            "(Art. 9.3, 9.4): versions, status, when sent and received",
            "operationId": "getExchangedLists",
            "responses": {
                "200": json_response({"type": "object"}, "Sent and received versions"),
                **error_responses(401),
            },
        }
    },
    "/api/v1/webhooks": {
        "get": {
            "summary": "This API key's webhooks",
            "operationId": "listWebhooks",
            "responses": {
                "200": json_response({"type": "object"}, "Webhooks"),
                **error_responses(401, 403),
            },
        },
        "post": {
            "summary": "Register a URL told of every document received for this key's "
            "authority (POST, HMAC-SHA256 signature header); the secret is shown once",
            "operationId": "addWebhook",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": WEBHOOK_BODY}},
            },
            "responses": {
                "201": json_response({"type": "object"}, "The webhook, with its secret"),
                **error_responses(400, 401, 403, 409, 415),
            },
        },
    },
    "/api/v1/webhooks/{webhook_id}": {
        "delete": {
            "summary": "Remove a webhook (its pending deliveries are dropped)",
            "operationId": "removeWebhook",
            "parameters": [_HOOK_ID],
            "responses": {"204": {"description": "Removed"}, **error_responses(401, 403, 404)},
        }
    },
    "/api/v1/webhooks/{webhook_id}/deliveries": {
        "get": {
            "summary": "The latest deliveries of a webhook (status, attempts, last answer)",
            "operationId": "listWebhookDeliveries",
            "parameters": [_HOOK_ID],
            "responses": {
                "200": json_response({"type": "object"}, "Deliveries, newest first"),
                **error_responses(401, 403, 404),
            },
        }
    },
}
"""This blueprint's API routes in the OpenAPI document (the peer endpoint is not public)."""
register_paths(__name__, OPENAPI_PATHS)

_lock = threading.Lock()


@bp.before_app_request
def _party_verifier() -> None:
    """On a node of a Party, the app's verifier (``/verify``, ``/api/v1/verifications``)
    judges the other Party's signatures by the exchanged lists, as the receiver does."""
    app = current_app
    if "migdocs.verifier" in app.extensions:
        return
    s = services()
    if s.settings.party is None:
        return
    with _lock:
        if "migdocs.verifier" not in app.extensions:
            app.extensions["migdocs.verifier"] = dataclasses.replace(
                build_verifier(s.settings, s.database),
                registry=PartyRegistryLookup(s.database, s.settings.party),
            )


def receiver() -> Receiver:
    found = current_app.extensions.get("migdocs.exchange.receiver")
    if found is None:
        s = services()
        if s.settings.party is None:
            raise ExchangeUnavailable("this node serves no party (setting party is unset)")
        # The other Party's signatures are judged against its exchanged lists only.
        the_verifier = dataclasses.replace(verifier(), registry=ExchangedListsLookup(s.database))
        the_seal = seal()
        with _lock:
            found = current_app.extensions.get("migdocs.exchange.receiver")
            if found is None:
                found = Receiver(
                    s.settings.party, s.database, s.storage, s.renderer, the_verifier, the_seal
                )
                current_app.extensions["migdocs.exchange.receiver"] = found
    assert isinstance(found, Receiver)
    return found


def calling_peer() -> Peer:
    der = transport.client_certificate(request.environ)
    if der is None:
        raise PeerUnknown("the peer endpoint needs the peer node's TLS client certificate")
    with services().database.reading() as session:
        peer = peer_by_certificate(session, der)
        if peer is None:
            raise PeerUnknown("this client certificate is not the registered peer node's")
        session.expunge(peer)
    return peer


def _declared() -> Declared:
    number = (request.headers.get(NUMBER_HEADER) or "").strip()
    sha256 = (request.headers.get(SHA256_HEADER) or "").strip().lower()
    missing = [
        Violation(None, f"header {name}", "missing")
        for name, value in ((NUMBER_HEADER, number), (SHA256_HEADER, sha256))
        if not value
    ]
    if missing:
        raise InputError("delivery without its declared number and SHA-256", tuple(missing))
    return Declared(number[:64], sha256[:64])


@bp.post("/peer/v1/deliveries")
def receive_delivery() -> Response:
    peer = calling_peer()
    if request.mimetype != "application/pdf":
        raise UnsupportedMediaType(f"send the PDF as application/pdf, not {request.mimetype}")
    declared = _declared()
    answer = receiver().receive(
        request.get_data(cache=False), declared, peer, actor=f"peer:{peer.party}"
    )
    response = Response(answer.receipt_pdf, mimetype="application/pdf")
    response.headers["X-Migdocs-Outcome"] = answer.outcome
    if answer.incoming_number:
        response.headers["X-Migdocs-Incoming-Number"] = answer.incoming_number
    return response


@bp.post("/peer/v1/lists")
def receive_signatory_list() -> Response:
    """A signed list of authorised signatories of the peer's Party (Art. 9.3, 9.4)."""
    peer = calling_peer()
    if request.mimetype != "application/pdf":
        raise UnsupportedMediaType(f"send the PDF as application/pdf, not {request.mimetype}")
    authority = (request.headers.get(AUTHORITY_HEADER) or "").strip()[:32]
    version = (request.headers.get(VERSION_HEADER) or "").strip()
    if not authority or not version.isdigit():
        raise InputError(
            "a list without its authority and version",
            (Violation(None, f"header {AUTHORITY_HEADER} / {VERSION_HEADER}", "missing"),),
        )
    s = services()
    got = receive_list(
        s.database, s.storage, peer, authority, int(version), request.get_data(cache=False)
    )
    return jsonify(
        {
            "authority": got.authority,
            "version": got.version,
            "sha256": got.sha256,
            "received_at": got.received_at.isoformat(),
            "repeated": got.repeated,
        }
    )


# ----- recipient's API --------------------------------------------------------------------


def _int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if ascii_int(raw) is None or not 1 <= int(raw) <= maximum:
        raise InputError(
            f"{name} must be a whole number from 1 to {maximum}",
            (Violation(None, name, f"got {raw[:20]!r}"),),
        )
    return int(raw)


def _inbox_item(item: inbox.InboxItem) -> dict[str, Any]:
    doc, incoming = item.document, item.incoming
    return {
        "id": doc.id,
        "registration_number": doc.registration_number,
        "incoming_number": incoming.incoming_number,
        "received_at": incoming.received_at.isoformat(),
        "document_type": doc.document_type,
        "sender": doc.sender,
        "recipient": doc.recipient,
        "sha256": doc.pdf_sha256,
        "indication": incoming.indication,
        "links": {
            "self": url_for("api.get_document", document_id=doc.id),
            "pdf": url_for("api.get_document_pdf", document_id=doc.id),
            "xml": url_for("api.get_document_xml", document_id=doc.id),
            "receipt": url_for("exchange.get_receipt", document_id=doc.id),
        },
    }


@bp.get("/api/v1/inbox")
def get_inbox() -> Response:
    principal = current_principal()
    after_cursor = request.args.get("after")
    after = inbox.decode_cursor(after_cursor)
    limit = _int_arg("limit", 50, inbox.MAX_LIMIT)
    items = inbox.page(services().database, principal.authority, after, limit)
    next_cursor = inbox.encode_cursor(items[-1].incoming.seq) if items else after_cursor
    return jsonify({"items": [_inbox_item(i) for i in items], "next": next_cursor})


def _visible(document_id: str) -> StoredDocument:
    principal = current_principal()
    with services().database.reading() as session:
        row = services().documents.get(session, document_id, principal)
        session.expunge(row)
    return row


@bp.get("/api/v1/documents/<document_id>/delivery")
def get_delivery(document_id: str) -> Response:
    row = _visible(document_id)
    found = delivery_json(row.id)
    if found is None:
        raise NotFound(f"document {row.registration_number} is not exchanged with a peer")
    return jsonify(found)


@bp.get("/api/v1/documents/<document_id>/receipt")
def get_receipt(document_id: str) -> Response:
    row = _visible(document_id)
    key = receipt_key(row.id)
    if not services().storage.exists(key):
        raise NotFound(f"no receipt for document {row.registration_number}")
    return Response(
        services().storage.get(key),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{row.registration_number}-receipt.pdf"'
        },
    )


# ----- webhooks (per API key) -------------------------------------------------------------


def _api_key() -> tuple[str, str]:
    principal = current_principal()
    if principal.kind != "apikey":
        raise Forbidden("webhooks belong to API keys: call with X-API-Key")
    return principal.name, principal.authority


def _hook_json(hook: Any, secret: bool = False) -> dict[str, Any]:
    found = {
        "id": hook.id,
        "url": hook.url,
        "authority": hook.authority,
        "events": [webhooks.EVENT_RECEIVED],
        "created_at": hook.created_at.isoformat(),
        "links": {"deliveries": url_for("exchange.webhook_deliveries", webhook_id=hook.id)},
    }
    if secret:
        found["secret"] = hook.secret
    return found


@bp.get("/api/v1/webhooks")
def list_webhooks() -> Response:
    key, _ = _api_key()
    with services().database.reading() as session:
        items = [_hook_json(h) for h in webhooks.list_webhooks(session, key)]
    return jsonify({"items": items})


@bp.post("/api/v1/webhooks")
def add_webhook() -> Response:
    key, authority = _api_key()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"send the webhook as application/json, not {request.mimetype or 'no content type'}"
        )
    body = params.read_json_object(WEBHOOK_BODY, request.get_json(silent=True))
    with services().database.transaction() as session:
        hook = webhooks.add_webhook(session, key, authority, body["url"])
        created = _hook_json(hook, secret=True)
    response = jsonify(created)
    response.status_code = 201
    return response


@bp.delete("/api/v1/webhooks/<webhook_id>")
def remove_webhook(webhook_id: str) -> Response:
    key, _ = _api_key()
    with services().database.transaction() as session:
        webhooks.remove_webhook(session, key, webhook_id)
    return Response(status=204)


@bp.get("/api/v1/webhooks/<webhook_id>/deliveries")
def webhook_deliveries(webhook_id: str) -> Response:
    key, _ = _api_key()
    with services().database.reading() as session:
        hook = webhooks.own_webhook(session, key, webhook_id)
        items = [
            {
                "id": d.id,
                "event": d.event,
                "document_id": d.document_id,
                "status": d.status,
                "attempts": d.attempts,
                "created_at": d.created_at.isoformat(),
                "next_attempt_at": d.next_attempt_at.isoformat(),
                "finished_at": d.finished_at.isoformat() if d.finished_at else None,
                "last_status": d.last_status,
                "last_error": d.last_error,
            }
            for d in webhooks.deliveries(session, hook)
        ]
    return jsonify({"items": items})


# ----- exchanged lists of signatories -----------------------------------------------------

LIST_STATUS_TITLES = {
    "pending": "ожидает отправки",
    "delivered": "получен другой Стороной",
    "refused": "отклонён другой Стороной",
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@bp.get("/api/v1/exchange/lists")
def exchanged_lists() -> Response:
    current_principal()
    sent, received = overview(services().database)
    return jsonify(
        {
            "sent": [
                {
                    "authority": p.authority,
                    "version": p.version,
                    "party": p.party,
                    "status": p.status,
                    "attempts": p.attempts,
                    "sent_at": _iso(p.sent_at),
                    "received_at": _iso(p.received_at),
                    "last_error": p.last_error,
                }
                for p in sent
            ],
            "received": [
                {
                    "authority": r.authority,
                    "version": r.version,
                    "party": r.party,
                    "sha256": r.pdf_sha256,
                    "signed_at": _iso(r.generated_at),
                    "signed_by": r.signatory_id,
                    "received_at": _iso(r.received_at),
                    "pdf": url_for(
                        "exchange.received_list_pdf", authority=r.authority, version=r.version
                    ),
                }
                for r in received
            ],
        }
    )


@bp.get("/exchange/lists/<authority>/v<int:version>.pdf")
def received_list_pdf(authority: str, version: int) -> Response:
    """A received list as it arrived (API key or officer)."""
    current_principal()
    key = received_list_key(authority, version)
    if not services().storage.exists(key):
        raise NotFound(f"no version {version} of the list of {authority[:32]} was received")
    return Response(services().storage.get(key), mimetype="application/pdf")


@bp.get("/exchange/lists")
@officer_required
def exchanged_lists_page() -> tuple[str, int]:
    sent, received = overview(services().database)
    return page(
        "exchange_lists.html", sent=sent, received=received, status_titles=LIST_STATUS_TITLES
    )
