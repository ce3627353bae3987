"""What an officer does in the pages: check, preview and sign an uploaded XML (the API's
pipeline, :meth:`DocumentService.create`, with the officer as the audit log's actor), and
record a transfer to a third party (:func:`service.domain.transfers.record_transfer`).

Between the check and the signature the XML travels in a hidden field with an HMAC made
with the app's secret key (as the verification report does), so nothing is kept on the
server for an upload that is never signed, and nobody can have the service sign bytes it
did not check.  Every ``POST`` carries the session's CSRF token (:mod:`service.web.pagekit`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from typing import Any

from flask import Response, current_app, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.domain.workplace import preview_pdf
from service.errors import MigdocsError
from service.pipeline.document import Document
from service.web.context import services
from service.web.pagekit import bp, current_officer, officer_required, page, ru_size
from service.web.principal import client_address
from signing.errors import SigningError

MAC_CONTEXT = b"officer-upload\0"


def _mac(payload: str, username: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = MAC_CONTEXT + username.encode() + b"\0" + payload.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pack(raw: bytes, username: str) -> tuple[str, str]:
    payload = base64.urlsafe_b64encode(zlib.compress(raw, 6)).decode()
    return payload, _mac(payload, username)


def unpack(username: str) -> bytes | None:
    """The checked XML of the form, or ``None`` when it is missing or was altered."""
    payload = request.form.get("xml", "")
    mac = request.form.get("mac", "")
    if not payload or not hmac.compare_digest(_mac(payload, username), mac):
        return None
    return zlib.decompress(base64.urlsafe_b64decode(payload.encode()))


def problem(exc: Exception) -> dict[str, Any]:
    """An error for the page: a plain Russian sentence, the technical message, violations."""
    if isinstance(exc, SigningError):
        return {"title": "Подписание невозможно", "message": str(exc), "violations": []}
    assert isinstance(exc, MigdocsError)
    titles = {
        "forbidden": "Документ другого органа",
        "conflict": "Документ уже был направлен",
    }
    return {
        "title": titles.get(exc.code, "Документ не прошёл проверку"),
        "message": exc.message,
        "violations": [v.as_dict() for v in exc.violations],
    }


def _upload_page(status: int, error: dict[str, Any] | None = None) -> tuple[str, int]:
    return page("upload.html", status, error=error, case_id=request.values.get("case_id", ""))


def _summary(doc: Document) -> dict[str, Any]:
    header = doc.header
    reference = getattr(doc, "in_reply_to", None)
    return {
        "document_type": doc.document_type,
        "document_id": header.document_id,
        "document_date": header.document_date,
        "sender": header.sender,
        "recipient": header.recipient,
        "signatory": header.signatory,
        "in_reply_to": reference.registration_number if reference is not None else None,
        "persons": [str(p.name_cyrillic) for p in doc.persons],
    }


@bp.get("/documents/new")
@officer_required
def upload_form() -> tuple[str, int]:
    return _upload_page(200)


@bp.post("/documents/check")
@officer_required
def upload_check() -> tuple[str, int]:
    """Validate the uploaded XML and show what will be signed."""
    officer = current_officer()
    upload = request.files.get("file")
    raw = bytes(upload.read()) if upload is not None else b""
    if not raw:
        return _upload_page(400, {"title": "Файл не выбран", "message": "Выберите XML-файл."})
    try:
        doc, _ = services().documents.parse(raw)
    except MigdocsError as exc:
        return _upload_page(422, problem(exc))
    if doc.header.sender != officer.authority:
        message = (
            f"Отправитель документа — {doc.header.sender}; вы можете подписывать только "
            f"документы своего органа ({officer.authority})."
        )
        return _upload_page(403, {"title": "Документ другого органа", "message": message})
    payload, mac = pack(raw, officer.username)
    return page(
        "preview.html",
        summary=_summary(doc),
        payload=payload,
        mac=mac,
        file_name=(upload.filename or "") if upload is not None else "",
        size=ru_size(len(raw)),
    )


@bp.post("/documents/preview.pdf")
@officer_required
def upload_preview() -> Response | tuple[str, int]:
    """The checked document rendered, unsigned and watermarked, to look at before signing."""
    officer = current_officer()
    raw = unpack(officer.username)
    if raw is None:
        return _upload_page(400, _ALTERED)
    doc, _ = services().documents.parse(raw)
    response = make_response(preview_pdf(services().renderer, doc, raw))
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = 'inline; filename="preview.pdf"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


_ALTERED = {
    "title": "Загрузите файл заново",
    "message": "Проверенный документ не найден в форме или был изменён.",
}


@bp.post("/documents/sign")
@officer_required
def upload_sign() -> BaseResponse | tuple[str, int]:
    """Sign and register the checked document: the API's pipeline, the officer as actor."""
    officer = current_officer()
    raw = unpack(officer.username)
    if raw is None:
        return _upload_page(400, _ALTERED)
    try:
        created = services().documents.create(raw, officer.principal, client_address())
    except (MigdocsError, SigningError) as exc:
        return _upload_page(422, problem(exc))
    done = "signed" if created.created else "repeated"
    return redirect(url_for("officers.document", document_id=created.document.id, done=done))
