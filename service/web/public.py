"""Blueprint ``public``: sample blank forms and the lists of authorised signatories.

Both are what the Parties exchange under Art. 9.3 (and 9.4 for changes), so both are
public: no API key, no login.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from service.domain import forms
from service.domain.form_signing import FormSigning
from service.domain.signatory_lists import TITLE, ListVersion, SignatoryLists, entries
from service.errors import NotFound
from service.pipeline.rendering import FORM_EFFECTIVE_DATE, FORM_VERSION, ru_date
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.web.context import services
from service.web.httpinput import ascii_int
from service.web.openapi import error_responses, json_response, register_paths
from service.web.params import Param, ParamSet
from signing.registry import Registry

bp = Blueprint("public", __name__)

FORM_MAX_AGE = 24 * 3600
"""Forms change only with a new release (their URL carries no version): cache a day."""
LIST_MAX_AGE = 365 * 24 * 3600
"""A stored list version never changes: cache it for good."""

_PDF = {
    "description": "PDF/A-3u",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}
_FORM = {
    "type": "object",
    "required": ["document_type", "title_ru", "authority", "version", "href"],
    "properties": {
        "document_type": {"type": "string", "enum": list(forms.FORM_TYPES)},
        "title_ru": {"type": "string"},
        "authority": {"type": "string", "enum": list(AUTHORITIES)},
        "authority_name_ru": {"type": "string"},
        "version": {"type": "string", "examples": [FORM_VERSION]},
        "href": {"type": "string"},
    },
}
_LIST = {
    "type": "object",
    "required": ["authority", "version", "generated_at", "sha256", "href"],
    "properties": {
        "authority": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "generated_at": {"type": "string", "format": "date-time"},
        "sha256": {"type": "string", "description": "SHA-256 of the signed PDF"},
        "size": {"type": "integer"},
        "entries": {"type": "integer", "description": "Signatories listed"},
        "signed_by": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        },
        "current": {"type": "boolean"},
        "href": {"type": "string"},
    },
}

FORM_PARAMS = ParamSet(
    (
        Param(
            "authority",
            {"type": "string", "enum": list(AUTHORITIES)},
            f"Sending authority (default {forms.DEFAULT_AUTHORITY})",
            forms.DEFAULT_AUTHORITY,
        ),
    )
)
"""The query of a sample form: described and checked from this declaration."""

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/forms": {
        "get": {
            "summary": "Sample blank forms (Art. 9.3): every document type × sender authority",
            "operationId": "listForms",
            "security": [],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "properties": {
                            "version": {"type": "string"},
                            "effective_from": {"type": "string", "format": "date"},
                            "forms": {"type": "array", "items": _FORM},
                        },
                    },
                    "The sample forms",
                )
            },
        }
    },
    "/api/v1/forms/{document_type}.pdf": {
        "get": {
            "summary": "One sample blank form, watermarked «ОБРАЗЕЦ»",
            "operationId": "getFormPdf",
            "security": [],
            "parameters": [
                {
                    "name": "document_type",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(forms.FORM_TYPES)},
                },
                *FORM_PARAMS.openapi(),
            ],
            "responses": {"200": _PDF, **error_responses(400, 404)},
        }
    },
    "/api/v1/signatories": {
        "get": {
            "summary": "Registry of authorities and authorised signatories, and the signed "
            "lists of authorised signatories (all versions)",
            "operationId": "listSignatories",
            "security": [],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "description": "Registry export plus `lists`",
                        "properties": {"lists": {"type": "array", "items": _LIST}},
                    },
                    "Registry export and list versions",
                )
            },
        }
    },
    "/api/v1/signatories/{authority}/v{version}.pdf": {
        "get": {
            "summary": "One version of an authority's signed list of authorised signatories",
            "operationId": "getSignatoryListPdf",
            "security": [],
            "parameters": [
                {"name": "authority", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "version",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            "responses": {
                "200": {**_PDF, "description": "Signed PDF/A-3u"},
                **error_responses(404),
            },
        }
    },
}
"""This blueprint's routes in the OpenAPI document (merged by :mod:`service.web.openapi`)."""
register_paths(__name__, OPENAPI_PATHS)


def _pdf_response(data: bytes, filename: str, max_age: int, etag: str) -> Response:
    response = Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    if max_age >= LIST_MAX_AGE:
        response.cache_control.immutable = True
    response.set_etag(etag)
    response.make_conditional(request)  # 304 for a matching If-None-Match (in place)
    return response


# ----- sample blank forms -----------------------------------------------------------------


def _form_list() -> list[dict[str, Any]]:
    return [
        {
            "document_type": document_type,
            "title_ru": title,
            "authority": authority,
            "authority_name_ru": AUTHORITIES[authority].name_ru,
            "version": FORM_VERSION,
            "href": url_for("public.form_pdf", document_type=document_type, authority=authority),
        }
        for document_type, title, authority in forms.catalogue()
    ]


@bp.get("/forms")
def forms_page() -> str:
    groups = [
        (
            document_type,
            DOCUMENT_TITLES[document_type],
            [f for f in _form_list() if f["document_type"] == document_type],
        )
        for document_type in forms.FORM_TYPES
    ]
    return render_template(
        "forms.html",
        groups=groups,
        version=FORM_VERSION,
        effective=ru_date(FORM_EFFECTIVE_DATE),
        authorities=AUTHORITIES,
    )


@bp.get("/api/v1/forms")
def list_forms() -> Response:
    return jsonify(
        {
            "version": FORM_VERSION,
            "effective_from": FORM_EFFECTIVE_DATE.isoformat(),
            "forms": _form_list(),
        }
    )


@bp.get("/api/v1/forms/<document_type>.pdf")
def form_pdf(document_type: str) -> Response:
    authority = FORM_PARAMS.read(request.args.to_dict(flat=False))["authority"]
    s = services()
    signing = FormSigning(s.database, s.signer)
    form = forms.FORMS.get(s.renderer, document_type, authority, signing)
    return _pdf_response(
        form.pdf,
        f"obrazec-{document_type}-{authority}-v{form.version}.pdf",
        FORM_MAX_AGE,
        form.sha256,
    )


# ----- lists of authorised signatories ----------------------------------------------------


def signatory_lists() -> SignatoryLists:
    """The app's list service (made on first use from the app's services)."""
    found = current_app.extensions.get("migdocs.signatory_lists")
    if found is None:
        s = services()
        found = SignatoryLists(s.database, s.storage, s.renderer, s.signer)
        current_app.extensions["migdocs.signatory_lists"] = found
    assert isinstance(found, SignatoryLists)
    return found


def _list_href(version: ListVersion) -> str:
    return url_for(
        "public.signatory_list_pdf", authority=version.authority, version=str(version.version)
    )


@bp.get("/api/v1/signatories")
def list_signatories() -> Response:
    lists = signatory_lists()
    lists.ensure_all()
    with services().database.reading() as db:
        body = Registry(db).export()
    body["lists"] = [v.as_json(_list_href(v)) for v in lists.versions()]
    return jsonify(body)


@bp.get("/api/v1/signatories/<authority>/v<version>.pdf")
def signatory_list_pdf(authority: str, version: str) -> Response:
    number = ascii_int(version)
    if number is None or number < 1:
        raise NotFound(f"no version {version[:20]!r} of the list of signatories of {authority}")
    found, data = signatory_lists().pdf(authority, number)
    return _pdf_response(
        data, f"signatories-{authority}-v{found.version}.pdf", LIST_MAX_AGE, found.sha256
    )


@bp.get("/signatories")
def signatories_page() -> str:
    lists = signatory_lists()
    lists.ensure_all()
    now = datetime.now(UTC)
    versions = lists.versions()
    sections = []
    with services().database.reading() as db:
        registry = Registry(db)
        for code in registry.authority_codes():
            authority = registry.authority_at(code, now) or registry.authority_versions(code)[-1]
            listed = entries(registry, code, now)
            mine = [v for v in versions if v.authority == code]
            sections.append(
                {
                    "code": code,
                    "authority": authority,
                    "authorised": [e for e in listed if e.authorised],
                    "former": [e for e in listed if not e.authorised],
                    "versions": [(v, _list_href(v)) for v in mine],
                    "current": next(((v, _list_href(v)) for v in mine if v.current), None),
                }
            )
        titles = {t.code: t.title_ru for t in registry.document_types()}
    return render_template(
        "signatories.html",
        title=TITLE,
        sections=sections,
        document_titles=titles,
        api_href=url_for("public.list_signatories"),
    )
