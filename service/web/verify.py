"""Blueprint ``verify``: public verification of signed PDFs (API, page, report downloads).

Three faces of :func:`signing.verification.verify_document`:

* ``POST /api/v1/verifications`` — raw ``application/pdf`` body or multipart field
  ``file`` → the JSON report;
* ``GET/POST /verify`` — the public page: upload form and a readable Russian report;
  ``GET /verify?document=<registration number>`` (the QR code of every signature block)
  reveals nothing about that number (Art. 11.1) and asks for the file — or for its
  SHA-256, which together with the number shows what the service knows;
* ``POST /verify/report.json`` and ``POST /verify/report.pdf`` — the report of a page
  verification as JSON, or as a PDF/A sealed with the service's own seal.  The page hands
  the report back in a hidden field with an HMAC (the app's secret key), so any worker
  can serve it and nobody can have the service seal a report it did not make.

The verifier itself is :mod:`service.domain.verification` (the CLI uses it too).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import io
import json
import re
import threading
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import weasyprint
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from sqlalchemy import select
from weasyprint.text.fonts import FontConfiguration

from service.domain.verification import Verifier, build_verifier, seal_config
from service.errors import InputError, UnsupportedMediaType, Violation
from service.paths import TEMPLATE_DIR
from service.pipeline import render_lock
from service.pipeline.rendering import FONT_FILES, AssetFetcher, font_dir
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.store import audit
from service.store.tables import StoredDocument
from service.web.context import services
from service.web.openapi import error_responses, json_response, register_paths
from service.web.principal import client_address
from signing.seal import Seal
from signing.verification import (
    CHECK_TITLES,
    Indication,
    VerificationReport,
)

bp = Blueprint("verify", __name__)

_CHECK = {
    "type": "object",
    "required": ["code", "status", "message"],
    "properties": {
        "code": {"type": "string", "examples": ["integrity"]},
        "title": {"type": "string"},
        "status": {"type": "string", "enum": ["PASSED", "FAILED", "WARNING"]},
        "message": {"type": "string", "description": "Plain Russian sentence"},
        "detail": {"type": ["string", "null"]},
    },
}
_INDICATION = {"type": "string", "enum": [i.value for i in Indication]}
_REPORT = {
    "type": "object",
    "required": ["sha256", "file_kind", "indication", "summary", "signatures", "checks"],
    "properties": {
        "sha256": {"type": "string"},
        "size": {"type": "integer"},
        "file_kind": {
            "type": "string",
            "enum": ["pdf", "not_pdf", "damaged_pdf", "encrypted_pdf"],
        },
        "valid": {"type": "boolean", "description": "indication == TOTAL_PASSED"},
        "indication": _INDICATION,
        "sub_indication": {"type": ["string", "null"]},
        "summary": {"type": "string"},
        "verified_at": {"type": "string", "format": "date-time"},
        "signature_count": {"type": "integer"},
        "signatures": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field_name": {"type": "string"},
                    "indication": _INDICATION,
                    "sub_indication": {"type": ["string", "null"]},
                    "summary": {"type": "string"},
                    "signer": {"type": ["object", "null"]},
                    "signatory": {"type": ["object", "null"]},
                    "best_signing_time": {"type": ["string", "null"], "format": "date-time"},
                    "changes": {"type": "array", "items": {"type": "string"}},
                    "checks": {"type": "array", "items": _CHECK},
                },
            },
        },
        "checks": {"type": "array", "items": _CHECK},
        "registration_number": {"type": ["string", "null"]},
        "document_type": {"type": ["string", "null"]},
        "form_version": {"type": ["string", "null"]},
        "pdfa": {"type": ["string", "null"]},
        "source_xml": {"type": ["object", "null"]},
        "known": {
            "type": ["object", "null"],
            "description": "What the service issued with these bytes; kind = document, "
            "signatory-list or verification-report",
        },
        "sample_form": {
            "type": ["string", "null"],
            "description": "Form version when the file is a sample blank form (ОБРАЗЕЦ)",
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/verifications": {
        "post": {
            "summary": "Verify a signed PDF: DSS-style report (ETSI EN 319 102-1)",
            "description": "Never fails on the file's content: a PDF without signatures, a "
            "damaged PDF or a file that is not a PDF gets a report saying so.",
            "operationId": "verify",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    },
                },
            },
            "responses": {
                "200": json_response(_REPORT, "Verification report"),
                **error_responses(400, 413, 415),
            },
        }
    },
}
"""This blueprint's routes in the OpenAPI document (merged by :mod:`service.web.openapi`)."""
register_paths(__name__, OPENAPI_PATHS)


# --------------------------------------------------------------------------- verifier


_app_lock = threading.Lock()


def verifier() -> Verifier:
    """The app's verifier (trust roots parsed once, registry snapshot cached)."""
    found = current_app.extensions.get("migdocs.verifier")
    if found is None:
        with _app_lock:
            found = current_app.extensions.get("migdocs.verifier")
            if found is None:
                s = services()
                found = build_verifier(s.settings, s.database)
                current_app.extensions["migdocs.verifier"] = found
    assert isinstance(found, Verifier)
    return found


def seal() -> Seal:
    """The app's seal: the configured PKCS#12, or the demo seal made on first use."""
    found = current_app.extensions.get("migdocs.seal")
    if found is None:
        with _app_lock:
            found = current_app.extensions.get("migdocs.seal")
            if found is None:
                found = Seal(seal_config(services().settings))
                current_app.extensions["migdocs.seal"] = found
    assert isinstance(found, Seal)
    return found


# --------------------------------------------------------------------------- API


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


def _audit(report: VerificationReport, channel: str) -> None:
    with services().database.write_connection(durable=False) as db:
        audit.record(
            db,
            actor="anonymous",
            action="verification",
            target=report.sha256,
            address=client_address(),
            details={
                "known": report.known is not None,
                "indication": report.indication.value,
                "sub_indication": report.sub_indication,
                "signatures": report.signature_count,
                "channel": channel,
            },
        )


@bp.post("/api/v1/verifications")
def verify_document() -> Response:
    pdf = uploaded_pdf()
    report = verifier().verify(pdf)
    _audit(report, "api")
    return jsonify(report.to_dict())


# --------------------------------------------------------------------------- page


def _ru_datetime(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.astimezone(UTC).strftime("%d.%m.%Y %H:%M:%S UTC")


def _pack(data: dict[str, Any]) -> tuple[str, str]:
    payload = base64.urlsafe_b64encode(
        zlib.compress(json.dumps(data, ensure_ascii=False).encode(), 6)
    ).decode()
    return payload, _mac(payload)


def _mac(payload: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"verification-report\0" + payload.encode(), hashlib.sha256).hexdigest()


REPORT_DOWNLOAD_WINDOW = timedelta(hours=1)
"""How long after a page verification its report can be downloaded (JSON or sealed PDF).

The page hands the report back in a MAC'd field; without a window anyone who kept the
field could have the service seal that old verdict at any later time, after the
registry or the trusted roots have changed.  Past the window the file is verified again."""


def _unpack() -> dict[str, Any]:
    payload = request.form.get("report", "")
    mac = request.form.get("mac", "")
    if not payload or not hmac.compare_digest(_mac(payload), mac):
        raise InputError(
            "the report was not made by this service (or was altered)",
            (Violation(None, "report", "bad or missing MAC"),),
        )
    data = json.loads(zlib.decompress(base64.urlsafe_b64decode(payload.encode())))
    assert isinstance(data, dict)
    verified_at = datetime.fromisoformat(str(data["verified_at"])).astimezone(UTC)
    if datetime.now(UTC) - verified_at > REPORT_DOWNLOAD_WINDOW:
        raise InputError(
            f"the verification was made at {verified_at:%Y-%m-%d %H:%M} UTC; its report can be "
            f"downloaded for {REPORT_DOWNLOAD_WINDOW.seconds // 60} minutes: verify the file again",
            (Violation(None, "report", "verification older than the download window", "expired"),),
        )
    return data


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _document_info(number: str, sha256: str) -> dict[str, Any] | None:
    """What the service knows about a document — only for the right number AND hash.

    Art. 11.1: the fact of a request is confidential.  A registration number alone is
    sequential and guessable, so it never unlocks anything; the SHA-256 of the signed
    PDF proves the visitor holds the file.  Unknown number and wrong hash look the same.
    """
    with services().database.reading() as db:
        row = db.execute(
            select(StoredDocument).where(StoredDocument.registration_number == number)
        ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.pdf_sha256, sha256):
            return None
        return {
            "registration_number": row.registration_number,
            "title": DOCUMENT_TITLES.get(row.document_type, row.document_type),
            "document_date": row.document_date,
            "sender": AUTHORITIES[row.sender].name_ru if row.sender in AUTHORITIES else row.sender,
            "recipient": AUTHORITIES[row.recipient].name_ru
            if row.recipient in AUTHORITIES
            else row.recipient,
            "signatory": f"{row.signatory_name} ({row.signatory_id})",
            "signed_at": _ru_datetime(row.signed_at),
            "form_version": row.form_version,
            "page_count": row.page_count,
            "pdf_sha256": row.pdf_sha256,
            "destroyed": row.destroyed_at is not None,
        }


def _audit_lookup(number: str, found: bool) -> None:
    with services().database.transaction() as db:
        audit.record(
            db,
            actor="anonymous",
            action="verification.lookup",
            target=number,
            address=client_address(),
            details={"matched": found},
        )


_CSS = {"TOTAL_PASSED": "ok", "TOTAL_FAILED": "bad", "INDETERMINATE": "unsure"}


def headline(data: dict[str, Any]) -> dict[str, str]:
    """The verdict line of the page and the PDF report: it follows the worst check.

    The indication decides the colour, except that a ``TOTAL_PASSED`` report with a
    failed check anywhere (a document-level one, e.g. the XML does not match) is never
    shown green: the headline names the failed checks instead.
    """
    indication = str(data["indication"])
    checks = [c for s in data.get("signatures", ()) for c in s["checks"]]
    checks += list(data.get("checks", ()))
    failed = [c for c in checks if c["status"] == "FAILED"]
    if indication == "TOTAL_PASSED" and failed:
        titles = ", ".join(dict.fromkeys(CHECK_TITLES.get(c["code"], c["code"]) for c in failed))
        return {
            "css": "unsure",
            "text": f"{data['summary']}, но не пройдены проверки: {titles}",
        }
    return {"css": _CSS[indication], "text": str(data["summary"])}


def _page_context(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "report": data,
        "headline": headline(data),
        "titles": CHECK_TITLES,
        "document_titles": DOCUMENT_TITLES,
        "ru_datetime": _ru_datetime,
        "css": _CSS,
        "labels": {
            "TOTAL_PASSED": "Подпись действительна",
            "TOTAL_FAILED": "Подпись недействительна",
            "INDETERMINATE": "Не подтверждено",
        },
        "status_labels": {"PASSED": "пройдена", "FAILED": "не пройдена", "WARNING": "внимание"},
    }


@bp.get("/verify")
def verify_page() -> str:
    """The upload form; ``?document=N`` (the QR code) only asks for the file or its hash."""
    number = (request.args.get("document") or "").strip()[:64]
    sha256 = (request.args.get("sha256") or "").strip().lower()[:64]
    info: dict[str, Any] | None = None
    checked = False
    if number and sha256:
        checked = True
        info = _document_info(number, sha256) if _SHA256.fullmatch(sha256) else None
        _audit_lookup(number, info is not None)
    return render_template("verify.html", number=number, sha256=sha256, info=info, checked=checked)


@bp.post("/verify")
def verify_upload() -> str | tuple[str, int]:
    upload = request.files.get("file")
    data = bytes(upload.read()) if upload is not None else b""
    if upload is None or not data:
        page = render_template(
            "verify.html", number="", sha256="", info=None, checked=False, error="Выберите файл"
        )
        return page, 400
    report = verifier().verify(data)
    _audit(report, "page")
    body = report.to_dict()
    body["file_name"] = (upload.filename or "")[:200]
    payload, mac = _pack(body)
    return render_template("verify_report.html", payload=payload, mac=mac, **_page_context(body))


@bp.post("/verify/report.json")
def report_json() -> Response:
    data = _unpack()
    response = Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="verification-{data["sha256"][:12]}.json"'
        },
    )
    return response


@functools.cache
def _fonts() -> dict[str, bytes]:
    return {key: (font_dir() / name).read_bytes() for key, (name, _sha) in FONT_FILES.items()}


def render_report_pdf(data: dict[str, Any], verify_url: str) -> bytes:
    """The report as PDF/A-3u (WeasyPrint, embedded PT Serif), not yet sealed."""
    html = (
        services()
        .renderer.jinja.get_template("report/verification.html.j2")
        .render(
            verify_url=verify_url,
            issued_at=_ru_datetime(datetime.now(UTC)),
            **_page_context(data),
        )
    )
    css = (TEMPLATE_DIR / "report" / "verification.css").read_text("utf-8")
    fetcher = AssetFetcher(_fonts())
    with render_lock.rendering():
        font_config = FontConfiguration()
        document = weasyprint.HTML(string=html, url_fetcher=fetcher).render(
            stylesheets=[weasyprint.CSS(string=css, url_fetcher=fetcher, font_config=font_config)],
            font_config=font_config,
            pdf_variant="pdf/a-3u",
        )
        out = io.BytesIO()
        document.write_pdf(out, pdf_variant="pdf/a-3u")
    return out.getvalue()


@bp.post("/verify/report.pdf")
def report_pdf() -> Response:
    data = _unpack()
    pdf = render_report_pdf(data, url_for("verify.verify_page", _external=True))
    sealed = asyncio.run(seal().async_seal(pdf))
    return Response(
        sealed,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="verification-{data["sha256"][:12]}.pdf"'
        },
    )
