"""Blueprint ``api``: the HTTP API v1 for upstream systems (and officers' sessions)."""

from __future__ import annotations

import logging
from datetime import UTC, date
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from service.domain.cases import STATUSES, CaseFilter, CaseService, CaseView
from service.domain.documents import DocumentFilter
from service.domain.transfers import record_transfer
from service.errors import InputError, UnsupportedMediaType, Violation
from service.store import audit
from service.store.tables import StoredDocument
from service.web.context import services
from service.web.httpinput import check_xml_charset, int_param
from service.web.jobs import accept_async, wants_async
from service.web.openapi import openapi_document
from service.web.principal import client_address, current_principal

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
    status = 201 if result.created else 200
    return jsonify(body), status, {"Location": body["links"]["self"]}


@bp.get("/api/v1/documents/<document_id>")
def get_document(document_id: str) -> Response:
    row, _ = services().documents.read(document_id, current_principal(), client_address(), "meta")
    body = document_json(row)
    if services().settings.party is not None:
        from service.exchange.status import delivery_json

        body["delivery"] = delivery_json(row.id)
    return jsonify(body)


def _file_response(document_id: str, what: str, mimetype: str) -> Response:
    row, data = services().documents.read(document_id, current_principal(), client_address(), what)
    filename = f"{row.registration_number}.{what}"
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/api/v1/documents/<document_id>/pdf")
def get_document_pdf(document_id: str) -> Response:
    return _file_response(document_id, "pdf", "application/pdf")


@bp.get("/api/v1/documents/<document_id>/xml")
def get_document_xml(document_id: str) -> Response:
    return _file_response(document_id, "xml", "application/xml")


def _date_arg(name: str) -> date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"query parameter {name} must be a date YYYY-MM-DD",
            (Violation(None, f"?{name}", f"{value!r} is not a date"),),
        ) from None


def _int_arg(name: str, default: int, maximum: int) -> int:
    return int_param(name, request.args.get(name), default, maximum)


def filter_from_args() -> DocumentFilter:
    return DocumentFilter(
        document_type=request.args.get("type") or None,
        counterpart=request.args.get("counterpart") or None,
        date_from=_date_arg("date_from"),
        date_to=_date_arg("date_to"),
        registration_number=request.args.get("q") or None,
    )


@bp.get("/api/v1/documents")
def list_documents() -> Response:
    principal = current_principal()
    page = _int_arg("page", 1, 1_000_000)
    page_size = _int_arg("page_size", services().settings.page_size, 500)
    rows, total = services().documents.list(principal, filter_from_args(), page, page_size)
    return jsonify(
        {
            "items": [document_json(r) for r in rows],
            "page": page,
            "page_size": page_size,
            "total": total,
        }
    )


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


def _bool_arg(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value.lower() not in ("true", "false", "1", "0"):
        raise InputError(
            f"query parameter {name} must be true or false",
            (Violation(None, f"?{name}", f"{value!r} is not true or false"),),
        )
    return value.lower() in ("true", "1")


def case_filter_from_args() -> CaseFilter:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise InputError(
            f"query parameter status must be one of {', '.join(STATUSES)}",
            (Violation(None, "?status", f"{status!r} is not a case status"),),
        )
    return CaseFilter(status=status, overdue=_bool_arg("overdue"), due_soon=_bool_arg("due_soon"))


@bp.get("/api/v1/cases")
def list_cases() -> Response:
    principal = current_principal()
    page = _int_arg("page", 1, 1_000_000)
    page_size = _int_arg("page_size", services().settings.page_size, 500)
    flt = case_filter_from_args()
    views, total = CaseService(services().database).list(principal, flt, page, page_size)
    return jsonify(
        {
            "items": [case_json(v) for v in views],
            "page": page,
            "page_size": page_size,
            "total": total,
        }
    )


@bp.get("/api/v1/cases/<case_id>")
def get_case(case_id: str) -> Response:
    found = CaseService(services().database).get(case_id, current_principal(), client_address())
    return jsonify(case_json(found, with_timeline=True))


@bp.post("/api/v1/documents/<document_id>/transfers")
def create_transfer(document_id: str) -> tuple[Response, int]:
    principal = current_principal(api_key_only=True)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(
            "send a JSON object {third_party, consent_registration_number}",
            (Violation(None, "/", "not a JSON object"),),
        )
    third_party = body.get("third_party")
    consent = body.get("consent_registration_number")
    transfer, row, consent_row = record_transfer(
        services().documents,
        document_id,
        third_party if isinstance(third_party, str) else "",
        consent if isinstance(consent, str) else "",
        principal,
        client_address(),
    )
    return jsonify(
        {
            "id": transfer.id,
            "document": {"id": row.id, "registration_number": row.registration_number},
            "third_party": transfer.third_party,
            "consent": {
                "id": consent_row.id,
                "registration_number": consent_row.registration_number,
            },
            "authority": transfer.authority,
            "recorded_by": transfer.recorded_by,
            "recorded_at": transfer.recorded_at.isoformat(),
        }
    ), 201


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
