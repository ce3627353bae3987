"""OpenAPI 3.1 description of the HTTP API (a test checks it covers every route)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from service.pipeline.xmlinput import ROOT_TO_TYPE

_ERROR = {"$ref": "#/components/schemas/Error"}


_PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "`respond-async` (RFC 7240): check the document, queue it and answer "
    "202 with the status URL of its render job (for large documents)",
    "schema": {"type": "string"},
}
_ACCEPTED = {
    "type": "object",
    "required": ["id", "status", "links"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["queued"]},
        "links": {"type": "object", "properties": {"status": {"type": "string"}}},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed or schema-invalid XML; `details` lists line and XPath",
        401: "Missing or invalid API key",
        403: "Not allowed (authority, signatory)",
        404: "No such document (or not visible to the caller)",
        409: "Same upstream document id posted before with different content",
        413: "Request body too large",
        415: "Wrong content type",
        422: "Well-formed but inconsistent document",
        503: "Database unavailable",
    }
    return {
        str(s): {"description": text[s], "content": {"application/json": {"schema": _ERROR}}}
        for s in statuses
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_parameters(*filters: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Optional query parameters: the given filters, then ``page`` and ``page_size``."""
    paging = (
        ("page", {"type": "integer", "minimum": 1}),
        ("page_size", {"type": "integer", "minimum": 1, "maximum": 500}),
    )
    return [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in (*filters, *paging)
    ]


def _page_of(item: dict[str, Any], description: str) -> dict[str, Any]:
    return _json(
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": item},
                "page": {"type": "integer"},
                "page_size": {"type": "integer"},
                "total": {"type": "integer"},
            },
        },
        description,
    )


_DOC_ID = {
    "name": "document_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_DOCUMENT = {"$ref": "#/components/schemas/Document"}
_CASE_STATUSES = (
    "open",
    "awaiting-additional-information",
    "postponed",
    "answered",
    "partially-refused",
    "refused",
)
_CASE = {
    "type": "object",
    "required": ["id", "request", "status", "deadline", "days_left", "overdue"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "request": {"type": "object"},
        "requesting": {"type": "string"},
        "requested": {"type": "string"},
        "status": {"type": "string", "enum": list(_CASE_STATUSES)},
        "received_on": {"type": "string", "format": "date"},
        "deadline": {"type": "string", "format": "date"},
        "days_left": {"type": "integer"},
        "overdue": {"type": "boolean"},
        "due_soon": {"type": "boolean"},
        "timeline": {"type": "array", "items": {"type": "object"}},
    },
}


_REGISTERED_PATHS: dict[str, dict[str, Any]] = {}
"""Paths described by blueprints themselves, by the registering module's name."""


def register_paths(owner: str, paths: dict[str, Any]) -> None:
    """Add a blueprint's own routes to the document (called when its module is imported).

    The builder never imports the blueprints: they depend on it, not it on them.
    """
    _REGISTERED_PATHS[owner] = paths


def openapi_document() -> dict[str, Any]:
    document = _core_document()
    for owner in sorted(_REGISTERED_PATHS):
        document["paths"].update(_REGISTERED_PATHS[owner])
    return document


def error_responses(*statuses: int) -> dict[str, Any]:
    """Error responses in the shared shape, for blueprints describing their routes."""
    return _errors(*statuses)


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return _json(schema, description)


def _core_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "migdocs API",
            "version": version("migdocs"),
            "description": "Signed PDF/A documents of the 2019 Kazakhstan–Belarus agreement "
            "on cooperation in migration.",
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "officerSession": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message", "details"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Document": {
                    "type": "object",
                    "required": [
                        "id",
                        "registration_number",
                        "document_type",
                        "sha256",
                        "signed_at",
                        "signatory",
                        "links",
                    ],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "registration_number": {
                            "type": "string",
                            "examples": ["KZ-MVD-2026-000001"],
                        },
                        "document_type": {
                            "type": "string",
                            "enum": list(ROOT_TO_TYPE.values()),
                        },
                        "upstream_id": {"type": "string", "format": "uuid"},
                        "sender": {"type": "string"},
                        "recipient": {"type": "string"},
                        "document_date": {"type": "string", "format": "date"},
                        "sha256": {"type": "string", "description": "SHA-256 of the signed PDF"},
                        "xml_sha256": {"type": "string"},
                        "page_count": {"type": "integer"},
                        "form_version": {"type": "string"},
                        "signed_at": {"type": "string", "format": "date-time"},
                        "signatory": {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                        },
                        "links": {
                            "type": "object",
                            "properties": {
                                "self": {"type": "string"},
                                "pdf": {"type": "string"},
                                "xml": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
        "security": [{"apiKey": []}, {"officerSession": []}],
        "paths": {
            "/api/v1/documents": {
                "post": {
                    "summary": "Validate, render, sign and store a document",
                    "operationId": "createDocument",
                    "parameters": [_PREFER],
                    "requestBody": {
                        "required": True,
                        "content": {"application/xml": {"schema": {"type": "string"}}},
                    },
                    "responses": {
                        "201": _json(_DOCUMENT, "Created and signed"),
                        "200": _json(_DOCUMENT, "Posted before with the same content"),
                        "202": _json(_ACCEPTED, "Checked and queued (Prefer: respond-async)"),
                        **_errors(400, 401, 403, 409, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": "List the caller's authority's documents",
                    "operationId": "listDocuments",
                    "parameters": _query_parameters(
                        ("type", {"type": "string"}),
                        ("counterpart", {"type": "string"}),
                        ("date_from", {"type": "string", "format": "date"}),
                        ("date_to", {"type": "string", "format": "date"}),
                        ("q", {"type": "string"}),
                    ),
                    "responses": {
                        "200": _page_of(_DOCUMENT, "One page of documents"),
                        **_errors(400, 401),
                    },
                },
            },
            "/api/v1/documents/{document_id}": {
                "get": {
                    "summary": "Document metadata",
                    "operationId": "getDocument",
                    "parameters": [_DOC_ID],
                    "responses": {"200": _json(_DOCUMENT, "Metadata"), **_errors(401, 404)},
                }
            },
            "/api/v1/documents/{document_id}/pdf": {
                "get": {
                    "summary": "The signed PDF",
                    "operationId": "getDocumentPdf",
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": {
                            "description": "PDF/A-3 with PAdES signature",
                            "content": {
                                "application/pdf": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        **_errors(401, 404),
                    },
                }
            },
            "/api/v1/documents/{document_id}/xml": {
                "get": {
                    "summary": "The source XML as posted",
                    "operationId": "getDocumentXml",
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": {
                            "description": "Source XML",
                            "content": {"application/xml": {"schema": {"type": "string"}}},
                        },
                        **_errors(401, 404),
                    },
                }
            },
            "/api/v1/cases": {
                "get": {
                    "summary": "Cases of the caller's authority (as requesting or requested)",
                    "operationId": "listCases",
                    "parameters": _query_parameters(
                        ("status", {"type": "string", "enum": list(_CASE_STATUSES)}),
                        ("overdue", {"type": "boolean"}),
                        ("due_soon", {"type": "boolean"}),
                    ),
                    "responses": {
                        "200": _page_of(_CASE, "One page of cases"),
                        **_errors(400, 401),
                    },
                }
            },
            "/api/v1/cases/{case_id}": {
                "get": {
                    "summary": "A case with the timeline of its documents (audited)",
                    "operationId": "getCase",
                    "parameters": [
                        {
                            "name": "case_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": {"200": _json(_CASE, "The case"), **_errors(401, 404)},
                }
            },
            "/api/v1/documents/{document_id}/transfers": {
                "post": {
                    "summary": "Record that a document was passed to a third party (Art. 11.3)",
                    "description": "Refused with 422 unless a granted third-party consent "
                    "answering a consent request that covers the document is in this service.",
                    "operationId": "createTransfer",
                    "parameters": [_DOC_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["third_party", "consent_registration_number"],
                                    "properties": {
                                        "third_party": {"type": "string"},
                                        "consent_registration_number": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"type": "object"}, "Transfer recorded"),
                        **_errors(400, 401, 404, 422),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and database check",
                    "operationId": "healthz",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "Healthy"), **_errors(503)},
                }
            },
        },
    }
