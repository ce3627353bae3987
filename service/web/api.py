"""Blueprint ``api``: the HTTP API v1 for upstream systems (and officers' sessions)."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from service.domain.cases import STATUSES, CaseFilter, CaseService, CaseView
from service.domain.documents import DocumentFilter
from service.domain.transfers import list_transfers, record_transfer
from service.errors import UnsupportedMediaType
from service.store import audit
from service.store.tables import StoredDocument, Transfer
from service.web import params
from service.web.conditional import conditional, json_etag, page_response
from service.web.context import services
from service.web.httpinput import check_xml_charset
from service.web.jobs import accept_async, wants_async
from service.web.openapi import TRANSFER_BODY, openapi_document
from service.web.principal import client_address, current_principal
from service.web.xsd import VERSION_HEADER, schema_version

bp = Blueprint("api", __name__)
log = logging.getLogger("migdocs.http")

XML_TYPES = ("application/xml", "text/xml")


def document_json(row: StoredDocument) -> dict[str, Any]:
    return {
        "id": row.id,
        "registration_number": row.registration_number,
        "document_type": row.document_type,
        "upstream_id": row.upstream_id,
        "sender": row.sender,
        "recipient": row.recipient,
        "document_date": row.document_date,
        "sha256": row.pdf_sha256,
        "xml_sha256": row.xml_sha256,
        "page_count": row.page_count,
        "form_version": row.form_version,
        "signed_at": row.signed_at.isoformat(),
        "signatory": {"id": row.signatory_id, "name": row.signatory_name},
        "links": {
            "self": url_for("api.get_document", document_id=row.id),
            "pdf": url_for("api.get_document_pdf", document_id=row.id),
            "xml": url_for("api.get_document_xml", document_id=row.id),
        },
    }


@bp.post("/api/v1/documents")
def create_document() -> tuple[Response, int, dict[str, str]]:
    principal = current_principal(api_key_only=True)
    content_type = (request.mimetype or "").lower()
    if content_type not in XML_TYPES:
        raise UnsupportedMediaType(
            f"send the document as application/xml, not {content_type or 'no content type'}"
        )
    raw = request.get_data(cache=False)
    check_xml_charset(request.mimetype_params.get("charset"), raw)
    if wants_async():  # Prefer: respond-async (RFC 7240): 202 and a status URL
        return accept_async(raw, principal)
    result = services().documents.create(raw, principal, client_address())
    body = document_json(result.document)
    body["warnings"] = [w.as_dict() for w in result.warnings]
    status = 201 if result.created else 200
    return jsonify(body), status, {"Location": body["links"]["self"], **_schema_version()}


def _schema_version() -> dict[str, str]:
    return {VERSION_HEADER: schema_version()}


@bp.get("/api/v1/documents/<document_id>")
def get_document(document_id: str) -> Response:
    row, _ = services().documents.read(document_id, current_principal(), client_address(), "meta")
    body = document_json(row)
    if services().settings.party is not None:
        from service.exchange.status import delivery_json

        body["delivery"] = delivery_json(row.id)
    # An exchanged document's metadata changes with its delivery, which keeps no time of
    # its last change: then only the ETag (a hash of the body) validates it.
    last_modified = row.created_at if body.get("delivery") is None else None
    return conditional(jsonify(body), json_etag(body), last_modified)


def _file_response(document_id: str, what: str, mimetype: str) -> Response:
    row, data = services().documents.read(document_id, current_principal(), client_address(), what)
    filename = f"{row.registration_number}.{what}"
    response = Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    if what == "xml":
        response.headers.update(_schema_version())
    # The files never change: their SHA-256 is a strong validator.
    etag = row.pdf_sha256 if what == "pdf" else row.xml_sha256
    return conditional(response, etag, row.created_at)


@bp.get("/api/v1/documents/<document_id>/pdf")
def get_document_pdf(document_id: str) -> Response:
    return _file_response(document_id, "pdf", "application/pdf")


@bp.get("/api/v1/documents/<document_id>/xml")
def get_document_xml(document_id: str) -> Response:
    return _file_response(document_id, "xml", "application/xml")


def document_params() -> params.ParamSet:
    return params.ParamSet(
        (*params.document_filters(), *params.paging(services().settings.page_size))
    )


def filter_from_args() -> tuple[DocumentFilter, int, int]:
    """The documents list's filter and paging, each value checked as declared."""
    given = document_params().read(request.args.to_dict(flat=False))
    flt = DocumentFilter(
        document_type=given["type"],
        counterpart=given["counterpart"],
        date_from=given["date_from"],
        date_to=given["date_to"],
        registration_number=given["q"],
        upstream_id=given["document_id"],
        direction=given["direction"],
        exchange_status=given["status"],
        since=given["since"],
    )
    return flt, given["page"], given["page_size"]


@bp.get("/api/v1/documents")
def list_documents() -> Response:
    principal = current_principal()
    flt, page, page_size = filter_from_args()
    rows, total = services().documents.list(principal, flt, page, page_size)
    items = [document_json(r) for r in rows]
    return page_response("api.list_documents", items, page, page_size, total)


# ----- cases and transfers ----------------------------------------------------------------


def case_json(v: CaseView, with_timeline: bool = False) -> dict[str, Any]:
    case = v.case
    body: dict[str, Any] = {
        "id": case.id,
        "request": {
            "id": v.request.id,
            "registration_number": case.request_number,
            "document_date": v.request.document_date,
        },
        "requesting": case.requesting,
        "requested": case.requested,
        "status": case.status,
        "received_on": case.created_at.astimezone(UTC).date().isoformat(),
        "deadline": v.deadline.isoformat(),
        "days_left": v.days_left,
        "overdue": v.overdue,
        "due_soon": v.due_soon,
        "updated_at": case.updated_at.isoformat(),
        "links": {"self": url_for("api.get_case", case_id=case.id)},
    }
    if with_timeline:
        body["timeline"] = [
            {
                "id": d.id,
                "registration_number": d.registration_number,
                "document_type": d.document_type,
                "document_date": d.document_date,
                "sender": d.sender,
                "recipient": d.recipient,
                "signed_at": d.signed_at.isoformat(),
                "links": {
                    "self": url_for("api.get_document", document_id=d.id),
                    "pdf": url_for("api.get_document_pdf", document_id=d.id),
                },
            }
            for d in v.timeline
        ]
    return body


def case_params() -> params.ParamSet:
    return params.ParamSet(
        (*params.case_filters(STATUSES), *params.paging(services().settings.page_size))
    )


@bp.get("/api/v1/cases")
def list_cases() -> Response:
    principal = current_principal()
    given = case_params().read(request.args.to_dict(flat=False))
    flt = CaseFilter(status=given["status"], overdue=given["overdue"], due_soon=given["due_soon"])
    page, page_size = given["page"], given["page_size"]
    views, total = CaseService(services().database).list(principal, flt, page, page_size)
    return page_response("api.list_cases", [case_json(v) for v in views], page, page_size, total)


@bp.get("/api/v1/cases/<case_id>")
def get_case(case_id: str) -> Response:
    found = CaseService(services().database).get(case_id, current_principal(), client_address())
    return jsonify(case_json(found, with_timeline=True))


@bp.post("/api/v1/documents/<document_id>/transfers")
def create_transfer(document_id: str) -> tuple[Response, int]:
    principal = current_principal(api_key_only=True)
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"send the transfer as application/json, not {request.mimetype or 'no content type'}"
        )
    given = params.read_json_object(TRANSFER_BODY, request.get_json(silent=True))
    transfer, row, consent_row = record_transfer(
        services().documents,
        document_id,
        given["third_party"],
        given["consent_registration_number"],
        principal,
        client_address(),
    )
    return jsonify(transfer_json(transfer, row, consent_row)), 201


@bp.get("/api/v1/documents/<document_id>/transfers")
def get_transfers(document_id: str) -> Response:
    row, found = list_transfers(
        services().documents, document_id, current_principal(), client_address()
    )
    return jsonify(
        {
            "document": {"id": row.id, "registration_number": row.registration_number},
            "items": [transfer_json(t, row, consent) for t, consent in found],
            "total": len(found),
        }
    )


def transfer_json(
    transfer: Transfer, row: StoredDocument, consent: StoredDocument
) -> dict[str, Any]:
    return {
        "id": transfer.id,
        "document": {"id": row.id, "registration_number": row.registration_number},
        "third_party": transfer.third_party,
        "consent": {"id": consent.id, "registration_number": consent.registration_number},
        "authority": transfer.authority,
        "recorded_by": transfer.recorded_by,
        "recorded_at": transfer.recorded_at.isoformat(),
    }


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Up or not, and nothing else: counts (documents, audit entries) would tell the
    public how many requests the authorities exchange (Art. 11.1)."""
    try:
        with services().database.reading() as db:
            db.execute(audit.head_query()).one()
    except Exception:  # health must answer, whatever broke
        log.exception("health check: database unavailable")
        return jsonify({"status": "unhealthy", "database": "unavailable"}), 503
    return jsonify({"status": "ok", "database": "ok"}), 200
