"""Blueprint ``api``: the HTTP API v1 for upstream systems (and officers' sessions)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from . import audit
from .context import services
from .documents import DocumentFilter
from .errors import InputError, UnsupportedMediaType, Violation
from .models import StoredDocument
from .openapi import openapi_document
from .principal import client_address, current_principal

bp = Blueprint("api", __name__)

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
    result = services().documents.create(raw, principal, client_address())
    body = document_json(result.document)
    status = 201 if result.created else 200
    return jsonify(body), status, {"Location": body["links"]["self"]}


@bp.get("/api/v1/documents/<document_id>")
def get_document(document_id: str) -> Response:
    row, _ = services().documents.read(document_id, current_principal(), client_address(), "meta")
    return jsonify(document_json(row))


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
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise InputError(
            f"query parameter {name} must be a number from 1 to {maximum}",
            (Violation(None, f"?{name}", f"{value!r} is out of range"),),
        )
    return int(value)


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


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with services().database.reading() as db:
            entries, _ = db.execute(audit.head_query()).one()
    except Exception as exc:  # health must answer, whatever broke
        return jsonify({"status": "unhealthy", "database": str(exc)[:200]}), 503
    return jsonify({"status": "ok", "database": "ok", "audit_entries": entries}), 200
