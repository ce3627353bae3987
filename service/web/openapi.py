"""OpenAPI 3.1 description of the HTTP API (a test checks it covers every route)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from service.web import examples, params

_ERROR = {"$ref": "#/components/schemas/Error"}

ERROR_TEXT = {
    304: "Not modified: the client's copy (If-None-Match / If-Modified-Since) is current",
    400: "Refused input: malformed or schema-invalid XML, or a query parameter or JSON body "
    "that does not match its declaration; each of `details` names one violation",
    401: "Missing or invalid API key (or officer session)",
    403: "Not allowed: another authority's document (`reason: wrong-authority`), or a "
    "signatory not authorised (`reason` names why)",
    404: "No such resource (or not visible to the caller)",
    409: "Same upstream documentId posted before with different content, or being issued",
    410: "Destroyed when its retention period ended (Art. 11.5); the metadata remains",
    413: "Request body too large",
    415: "Wrong content type or charset",
    422: "Well-formed and schema-valid but inconsistent, or beyond a published limit",
    500: "Rendering or signing failed (a fault of the service; the request id is in X-Request-Id)",
    503: "Unavailable for now (database down, or the number was voided mid-render: repeat "
    "the same documentId)",
}


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
    return {
        str(s): {
            "description": ERROR_TEXT[s],
            "content": {"application/json": {"schema": _ERROR}},
            "headers": _REQUEST_ID_HEADER,
        }
        for s in statuses
    }


def _with_examples(response: dict[str, Any], **named: str) -> dict[str, Any]:
    """``response`` with the errors of the named invalid samples as examples."""
    found = examples.error_examples()
    response["content"]["application/json"]["examples"] = {
        name: {"summary": f"samples/invalid/{sample}.xml", "value": found[sample]}
        for name, sample in named.items()
    }
    return response


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_REQUEST_ID_HEADER = {
    "X-Request-Id": {
        "description": "The request's id (the client's if it sent a printable one)",
        "schema": {"type": "string"},
    }
}
_VALIDATOR_HEADERS = {
    "ETag": {"description": "Strong validator (SHA-256)", "schema": {"type": "string"}},
    "Last-Modified": {
        "description": "When the document was stored (absent from the metadata of an "
        "exchanged document, which changes with its delivery)",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"schema": {"type": "string", "const": "private, no-cache"}},
}
_SCHEMA_VERSION_HEADER = {
    "X-Migdocs-Schema-Version": {
        "description": "Version of the XML Schemas (`version` of migdocs.xsd; the namespace "
        "urn:migdocs:kz-by-migration:v1 carries its major version)",
        "schema": {"type": "string"},
    }
}
_CONDITIONAL = [
    {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "ETag(s) of the client's copy: 304 if one matches",
        "schema": {"type": "string"},
    },
    {
        "name": "If-Modified-Since",
        "in": "header",
        "required": False,
        "description": "HTTP date of the client's copy: 304 if not modified since "
        "(ignored when If-None-Match is sent)",
        "schema": {"type": "string"},
    },
]
_NOT_MODIFIED = {
    "304": {
        "description": ERROR_TEXT[304],
        "headers": {k: v for k, v in _VALIDATOR_HEADERS.items() if k != "Last-Modified"},
    }
}
_LINK_HEADER = {
    "Link": {
        "description": 'RFC 8288 links `rel="first"`, `"prev"`, `"next"`, `"last"` (the same '
        "as `links` in the body)",
        "schema": {"type": "string"},
    }
}


def _page_of(item: dict[str, Any], description: str) -> dict[str, Any]:
    link = {"type": ["string", "null"]}
    response = _json(
        {
            "type": "object",
            "required": ["items", "page", "page_size", "total", "links"],
            "properties": {
                "items": {"type": "array", "items": item},
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0},
                "links": {
                    "type": "object",
                    "required": ["self", "first", "prev", "next", "last"],
                    "properties": {
                        "self": {"type": "string"},
                        "first": {"type": "string"},
                        "prev": link,
                        "next": link,
                        "last": {"type": "string"},
                    },
                },
            },
        },
        description,
    )
    response["headers"] = _LINK_HEADER
    return response


def _file(media_type: str, description: str, **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**_VALIDATOR_HEADERS, **headers},
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
    }


_DOC_ID = {
    "name": "document_id",
    "in": "path",
    "required": True,
    "description": "The service's id of the document (`id` of its metadata)",
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
    "withdrawn",
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
TRANSFER_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["third_party", "consent_registration_number"],
    "additionalProperties": False,
    "properties": {
        "third_party": {
            **params.non_blank(500),
            "description": "As named in the granted consent (case and spaces ignored)",
        },
        "consent_registration_number": {
            **params.non_blank(64),
            "description": "Registration number of the granted third-party consent",
        },
    },
}
"""The body of ``POST …/transfers``: described and checked (:func:`params.read_json_object`)
from this one declaration."""
_XML_BODY = {
    "type": "string",
    "format": "binary",
    "contentMediaType": "application/xml",
    "description": "A document of namespace `urn:migdocs:kz-by-migration:v1`, valid against "
    "[/api/v1/schemas/migdocs.xsd](/api/v1/schemas/migdocs.xsd) (one file per document "
    "type: [/api/v1/schemas/](/api/v1/schemas/)); its root element names the type.",
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


def _components() -> dict[str, Any]:
    return {
        "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "officerSession": {"type": "apiKey", "in": "cookie", "name": "session"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message", "details"],
                "properties": {
                    "error": {"type": "string", "description": "Machine-readable kind"},
                    "message": {"type": "string", "description": "What is wrong, in words"},
                    "details": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Violation"},
                    },
                },
            },
            "Violation": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable machine-readable name of the problem, e.g. "
                        "`schema_invalid`, `not_a_date`, `unknown_parameter`, "
                        "`wrong-authority`",
                    },
                    "message": {"type": "string"},
                    "line": {"type": ["integer", "null"], "description": "Line in the XML"},
                    "path": {
                        "type": "string",
                        "description": "XPath in the XML, `?name` of a query parameter, "
                        "`/name` of a JSON property",
                    },
                    "reason": {"type": "string", "description": "On 403: same as `code`"},
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
                    "document_type": {"type": "string", "enum": list(params.DOCUMENT_TYPES)},
                    "upstream_id": {"type": "string", "format": "uuid"},
                    "sender": {"type": "string"},
                    "recipient": {"type": "string"},
                    "document_date": {"type": "string", "format": "date"},
                    "sha256": {"type": "string", "description": "SHA-256 of the signed PDF"},
                    "xml_sha256": {"type": "string"},
                    "page_count": {"type": "integer"},
                    "form_version": {"type": "string"},
                    "signed_at": {"type": "string", "format": "date-time"},
                    "warnings": {
                        "type": "array",
                        "description": "Only in the answer to a POST: free text that "
                        "looks like personal data outside the person blocks (Art. 6). "
                        "The document is issued; the sender's officer should check it.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "line": {"type": ["integer", "null"]},
                                "path": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
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
                    "delivery": {
                        "type": ["object", "null"],
                        "description": "Only on a node that serves a Party: the exchange "
                        "with the peer node (see GET …/delivery)",
                    },
                },
                "examples": [examples.document_example()],
            },
        },
    }


def _documents_paths() -> dict[str, Any]:
    created = _json(_DOCUMENT, "Created and signed")
    created["headers"] = {
        "Location": {"schema": {"type": "string"}, "required": True},
        **_SCHEMA_VERSION_HEADER,
    }
    created["content"]["application/json"]["example"] = examples.document_example()
    repeated = _json(_DOCUMENT, "Posted before with the same content: the stored document")
    repeated["headers"] = created["headers"]
    xml_body = {"schema": _XML_BODY, "examples": examples.xml_examples()}
    refused = _errors(400, 401, 403, 409, 413, 415, 422, 500, 503)
    _with_examples(
        refused["400"], schema="missing-justification", malformed="malformed-mismatched-tag"
    )
    _with_examples(refused["422"], inconsistent="same-country")
    refused["403"]["content"]["application/json"]["example"] = {
        "error": "forbidden",
        "message": "this API key belongs to KZ-MTSZN and cannot send documents of KZ-MVD",
        "details": [
            {
                "code": "wrong-authority",
                "reason": "wrong-authority",
                "line": None,
                "path": "/request/header/sender",
                "message": "KZ-MVD is not the API key's authority KZ-MTSZN",
            }
        ],
    }
    return {
        "/api/v1/documents": {
            "post": {
                "summary": "Validate, render, sign and store a document",
                "operationId": "createDocument",
                "parameters": [_PREFER],
                "requestBody": {
                    "required": True,
                    "description": "The XML document as `application/xml` (`text/xml`, its "
                    "synonym in RFC 7303, is accepted too; it is not listed here so that "
                    "generated clients have one body type). A `charset` parameter must agree "
                    "with the document's own encoding. Schemas: /api/v1/schemas/",
                    "content": {"application/xml": xml_body},
                },
                "responses": {
                    "201": created,
                    "200": repeated,
                    "202": _json(_ACCEPTED, "Checked and queued (Prefer: respond-async)"),
                    **refused,
                },
            },
            "get": {
                "summary": "List the caller's authority's documents, newest first",
                "description": "Every filter is checked as declared; an unknown parameter "
                "or value is refused with 400, never ignored. `document_id` finds a "
                "document by the upstream system's documentId.",
                "operationId": "listDocuments",
                "parameters": params.ParamSet(
                    (*params.document_filters(), *params.paging(0))
                ).openapi(),
                "responses": {
                    "200": _page_of(_DOCUMENT, "One page of documents"),
                    **_errors(400, 401),
                },
            },
        },
        "/api/v1/documents/{document_id}": {
            "get": {
                "summary": "Document metadata (conditional GET: ETag, Last-Modified)",
                "operationId": "getDocument",
                "parameters": [_DOC_ID, *_CONDITIONAL],
                "responses": {
                    "200": {**_json(_DOCUMENT, "Metadata"), "headers": _VALIDATOR_HEADERS},
                    **_NOT_MODIFIED,
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/documents/{document_id}/pdf": {
            "get": {
                "summary": "The signed PDF (conditional GET: ETag = its SHA-256)",
                "operationId": "getDocumentPdf",
                "parameters": [_DOC_ID, *_CONDITIONAL],
                "responses": {
                    "200": _file("application/pdf", "PDF/A-3 with PAdES signature"),
                    **_NOT_MODIFIED,
                    **_errors(401, 404, 410),
                },
            }
        },
        "/api/v1/documents/{document_id}/xml": {
            "get": {
                "summary": "The source XML as posted (conditional GET: ETag = its SHA-256)",
                "operationId": "getDocumentXml",
                "parameters": [_DOC_ID, *_CONDITIONAL],
                "responses": {
                    "200": _file("application/xml", "Source XML", **_SCHEMA_VERSION_HEADER),
                    **_NOT_MODIFIED,
                    **_errors(401, 404, 410),
                },
            }
        },
        "/api/v1/documents/{document_id}/transfers": {
            "get": {
                "summary": "Transfers of a document to third parties (Art. 11.3), audited",
                "description": "Visible to both authorities of the document: the one that "
                "passed it on and the one whose consent it relied on.",
                "operationId": "listTransfers",
                "parameters": [_DOC_ID],
                "responses": {
                    "200": _json({"type": "object"}, "The transfers, oldest first"),
                    **_errors(401, 403, 404),
                },
            },
            "post": {
                "summary": "Record that a document was passed to a third party (Art. 11.3)",
                "description": "Refused with 422 unless a granted third-party consent "
                "answering a consent request that covers the document is in this service.",
                "operationId": "createTransfer",
                "parameters": [_DOC_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": TRANSFER_BODY}},
                },
                "responses": {
                    "201": _json({"type": "object"}, "Transfer recorded"),
                    **_errors(400, 401, 404, 415, 422),
                },
            },
        },
    }


def _core_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "migdocs API",
            "version": version("migdocs"),
            "description": "Signed PDF/A documents of the 2019 Kazakhstan–Belarus agreement "
            "on cooperation in migration. The XML Schemas of the posted documents: "
            "/api/v1/schemas/.",
        },
        "components": _components(),
        "security": [{"apiKey": []}, {"officerSession": []}],
        "paths": {
            **_documents_paths(),
            "/api/v1/cases": {
                "get": {
                    "summary": "Cases of the caller's authority (as requesting or requested)",
                    "operationId": "listCases",
                    "parameters": params.ParamSet(
                        (*params.case_filters(_CASE_STATUSES), *params.paging(0))
                    ).openapi(),
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
