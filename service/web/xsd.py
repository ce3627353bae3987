"""Blueprint ``xsd``: the XML Schemas of the documents, served as they are validated.

``GET /api/v1/schemas/`` lists them; ``GET /api/v1/schemas/<name>.xsd`` is one file, byte
for byte the one the server validates with (``xs:include`` locations are relative, so a
validator pointed at ``…/migdocs.xsd`` finds the rest).  The schema version is in the
namespace (``urn:migdocs:kz-by-migration:v1``) and in the header
``X-Migdocs-Schema-Version`` (the ``version`` attribute of ``migdocs.xsd``).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from lxml import etree

from service.errors import NotFound
from service.paths import SCHEMA_DIR
from service.pipeline.xmlinput import NAMESPACE, ROOT_TO_TYPE
from service.web.openapi import error_responses, json_response, register_paths

bp = Blueprint("xsd", __name__)

VERSION_HEADER = "X-Migdocs-Schema-Version"
ENTRY = "migdocs.xsd"


@functools.cache
def schema_files() -> dict[str, bytes]:
    """File name → bytes of every XSD (read once: they ship with the code)."""
    return {path.name: path.read_bytes() for path in sorted(SCHEMA_DIR.glob("*.xsd"))}


@functools.cache
def schema_version() -> str:
    root = etree.fromstring(schema_files()[ENTRY], etree.XMLParser(resolve_entities=False))
    return str(root.get("version"))


_TYPE_BY_FILE = {f"{t}.xsd": t for t in ROOT_TO_TYPE.values()}


@bp.get("/api/v1/schemas/")
def list_schemas() -> Response:
    response = jsonify(
        {
            "namespace": NAMESPACE,
            "version": schema_version(),
            "entry": url_for("xsd.get_schema", name=ENTRY),
            "schemas": [
                {
                    "name": name,
                    "document_type": _TYPE_BY_FILE.get(name),
                    "url": url_for("xsd.get_schema", name=name),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
                for name, data in schema_files().items()
            ],
        }
    )
    response.headers[VERSION_HEADER] = schema_version()
    return response


@bp.get("/api/v1/schemas/<name>")
def get_schema(name: str) -> Response:
    data = schema_files().get(name)
    if data is None:
        known = ", ".join(schema_files())
        raise NotFound(f"no schema {name[:60]!r}; the schemas are {known}")
    response = Response(data, mimetype="application/xml")
    response.headers[VERSION_HEADER] = schema_version()
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.set_etag(hashlib.sha256(data).hexdigest())
    response.make_conditional(request)  # in place: 304 and no body when current
    return response


_VERSION = {
    VERSION_HEADER: {
        "description": "Version of the XML Schemas (also in their namespace)",
        "schema": {"type": "string", "examples": ["1.0"]},
    }
}
_SCHEMA_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "File name, e.g. `migdocs.xsd` (all types) or `request.xsd`",
    "schema": {"type": "string"},
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/schemas/": {
        "get": {
            "summary": "The XML Schemas (XSD 1.0) the posted documents are validated with",
            "operationId": "listSchemas",
            "security": [],
            "responses": {
                "200": {
                    **json_response(
                        {
                            "type": "object",
                            "required": ["namespace", "version", "entry", "schemas"],
                            "properties": {
                                "namespace": {"type": "string", "const": NAMESPACE},
                                "version": {"type": "string"},
                                "entry": {"type": "string"},
                                "schemas": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["name", "url", "sha256"],
                                        "properties": {
                                            "name": {"type": "string"},
                                            "document_type": {"type": ["string", "null"]},
                                            "url": {"type": "string"},
                                            "sha256": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                        "Namespace, version and the URL of every schema file",
                    ),
                    "headers": _VERSION,
                }
            },
        }
    },
    "/api/v1/schemas/{name}": {
        "get": {
            "summary": "One XSD file, as the server validates with it",
            "operationId": "getSchema",
            "security": [],
            "parameters": [_SCHEMA_NAME],
            "responses": {
                "200": {
                    "description": "The XSD",
                    "headers": _VERSION,
                    "content": {"application/xml": {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not modified (If-None-Match)"},
                **error_responses(404),
            },
        }
    },
}
register_paths(__name__, OPENAPI_PATHS)
