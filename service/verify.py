"""Blueprint ``verify``: public verification of signed PDFs."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from signing.verify_basic import async_verify_pdf

from . import audit
from .context import services
from .errors import InputError, UnsupportedMediaType, Violation
from .models import StoredDocument
from .openapi import error_responses, json_response
from .principal import client_address

bp = Blueprint("verify", __name__)

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/verifications": {
        "post": {
            "summary": "Verify a signed PDF",
            "operationId": "verify",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    },
                },
            },
            "responses": {
                "200": json_response({"type": "object"}, "Verification report"),
                **error_responses(400, 413, 415),
            },
        }
    },
}
"""This blueprint's routes in the OpenAPI document (merged by :mod:`service.openapi`)."""


def uploaded_pdf() -> bytes:
    """The PDF from a raw ``application/pdf`` body or a multipart field ``file``."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InputError(
                "multipart upload without a field named file", (Violation(None, "file", "missing"),)
            )
        return bytes(upload.read())
    if request.mimetype in ("application/pdf", "application/octet-stream"):
        return request.get_data(cache=False)
    raise UnsupportedMediaType(
        "send the PDF as application/pdf or multipart/form-data, "
        f"not {request.mimetype or 'nothing'}"
    )


def basic_report(pdf: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(pdf).hexdigest()
    with services().database.reading() as db:
        known = db.execute(
            select(StoredDocument.registration_number).where(StoredDocument.pdf_sha256 == digest)
        ).scalar_one_or_none()
    report: dict[str, Any] = {
        "sha256": digest,
        "is_pdf": pdf.startswith(b"%PDF-"),
        "known_to_service": known is not None,
        "registration_number": known,
        "signatures": [],
    }
    if report["is_pdf"]:
        try:
            signatures = asyncio.run(async_verify_pdf(pdf))
            report["signatures"] = [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(s).items()}
                for s in signatures
            ]
        except Exception as exc:  # a damaged PDF gets a report, never a server error
            report["error"] = f"the PDF could not be read: {type(exc).__name__}"
    return report


@bp.post("/api/v1/verifications")
def verify_document() -> Response:
    pdf = uploaded_pdf()
    report = basic_report(pdf)
    with services().database.transaction() as db:
        audit.record(
            db,
            actor="anonymous",
            action="verification",
            target=report["sha256"],
            address=client_address(),
            details={"known": report["known_to_service"]},
        )
    return jsonify(report)
