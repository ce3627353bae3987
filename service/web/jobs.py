"""Blueprint ``jobs``: ``Prefer: respond-async`` on ``POST /api/v1/documents`` and the
status of a render job (see :mod:`service.domain.render_jobs`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from service.domain.auth import Principal
from service.domain.render_jobs import enqueue, find, respond_async
from service.web.context import services
from service.web.openapi import error_responses, json_response, register_paths
from service.web.principal import client_address, current_principal

bp = Blueprint("jobs", __name__)

RETRY_AFTER_SECONDS = 1


def wants_async() -> bool:
    return respond_async(request.headers.getlist("Prefer"))


def accept_async(raw: bytes, principal: Principal) -> tuple[Response, int, dict[str, str]]:
    """``202 Accepted``: the document is checked and queued; its status URL."""
    job_id = enqueue(services().documents, raw, principal, client_address())
    url = url_for("jobs.get_job", job_id=job_id)
    body = {"id": job_id, "status": "queued", "links": {"status": url}}
    return (
        jsonify(body),
        202,
        {
            "Location": url,
            "Preference-Applied": "respond-async",
            "Retry-After": str(RETRY_AFTER_SECONDS),
        },
    )


@bp.get("/api/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    job = find(services().documents, job_id, current_principal())
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "document": None,
        "error": None,
        "links": {"self": url_for("jobs.get_job", job_id=job.id)},
    }
    if job.document_id is not None:
        body["document"] = {
            "id": job.document_id,
            "registration_number": job.registration_number,
            "links": {"self": url_for("api.get_document", document_id=job.document_id)},
        }
    if job.error is not None:
        body["error"] = {"status": job.error_status, **job.error}
    response = jsonify(body)
    if job.status in ("queued", "rendering"):
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


_JOB = {
    "type": "object",
    "required": ["id", "status", "links"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["queued", "rendering", "done", "failed"]},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "document": {
            "type": ["object", "null"],
            "description": "When done: the stored document (GET links.self for it)",
        },
        "error": {
            "type": ["object", "null"],
            "description": "When failed: the HTTP status and the error answer the "
            "synchronous POST would have given",
        },
        "links": {"type": "object"},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/jobs/{job_id}": {
        "get": {
            "summary": "Status of a document posted with Prefer: respond-async",
            "operationId": "getRenderJob",
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": json_response(_JOB, "The job: queued, rendering, done or failed"),
                **error_responses(401, 404),
            },
        }
    },
}
"""This blueprint's routes in the OpenAPI document (merged by :mod:`service.web.openapi`)."""
register_paths(__name__, OPENAPI_PATHS)
