"""The HTTP API v1 as upstream systems use it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.paths import SAMPLES_DIR
from tests.service.conftest import Env

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()
YEAR = datetime.now(UTC).year


def with_new_id(raw: bytes) -> bytes:
    """The same document under a fresh upstream documentId."""
    start = raw.index(b"<documentId>") + len(b"<documentId>")
    end = raw.index(b"</documentId>")
    return raw[:start] + str(uuid.uuid4()).encode() + raw[end:]


def test_post_creates_signed_document_and_links_work(env: Env, tmp_path: Path) -> None:
    response = env.post_xml(REQUEST)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["registration_number"].startswith(f"KZ-MVD-{YEAR}-")
    assert body["document_type"] == "request"
    assert body["signatory"]["id"] == "KZ-MVD-001"
    assert response.headers["Location"] == body["links"]["self"]
    headers = {"X-API-Key": env.keys["KZ-MVD"]}
    meta = env.client.get(body["links"]["self"], headers=headers)
    assert meta.status_code == 200 and meta.json["sha256"] == body["sha256"]
    pdf = env.client.get(body["links"]["pdf"], headers=headers)
    assert pdf.mimetype == "application/pdf"
    import hashlib

    assert hashlib.sha256(pdf.data).hexdigest() == body["sha256"]
    xml = env.client.get(body["links"]["xml"], headers=headers)
    assert xml.data == REQUEST
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf.data)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out


def test_recipient_sees_the_document_others_get_404(env: Env) -> None:
    body = env.post_xml(REQUEST).json
    for authority, status in (("BY-MVD", 200), ("KZ-MVD", 200), ("BY-GPK", 404), ("KZ-MTSZN", 404)):
        headers = {"X-API-Key": env.keys[authority]}
        for link in body["links"].values():
            assert env.client.get(link, headers=headers).status_code == status, (authority, link)
    listed = env.client.get("/api/v1/documents", headers={"X-API-Key": env.keys["BY-GPK"]})
    assert listed.json["total"] == 0


def test_missing_or_wrong_api_key_is_401(env: Env) -> None:
    no_key = env.client.post(
        "/api/v1/documents", data=REQUEST, headers={"Content-Type": "application/xml"}
    )
    assert no_key.status_code == 401 and no_key.json["error"] == "unauthorized"
    for bad in ("nonsense", "mdk_000000000000_wrong", env.keys["KZ-MVD"][:-2] + "xx"):
        response = env.client.post(
            "/api/v1/documents",
            data=REQUEST,
            headers={"X-API-Key": bad, "Content-Type": "application/xml"},
        )
        assert response.status_code == 401
    assert env.client.get("/api/v1/documents").status_code == 401


def test_invalid_xml_is_400_with_line_and_path(env: Env) -> None:
    bad = REQUEST.replace(b"<sex>female</sex>", b"<sex>f</sex>")
    response = env.post_xml(bad)
    assert response.status_code == 400
    assert response.json["error"] == "schema_invalid"
    [detail] = response.json["details"]
    assert detail["line"] == 30 and detail["path"] == "/request/persons/person/sex"
    malformed = env.post_xml(b"<request><x></request>")
    assert malformed.status_code == 400 and malformed.json["error"] == "malformed_xml"


def test_inconsistent_document_is_422(env: Env) -> None:
    same_country = with_new_id(REQUEST).replace(b"<recipient>BY-MVD", b"<recipient>KZ-MTSZN")
    response = env.post_xml(same_country)
    assert response.status_code == 422 and response.json["error"] == "inconsistent"


def test_oversize_is_413_and_wrong_type_is_415(env: Env) -> None:
    env.app.config["MAX_CONTENT_LENGTH"] = 1000
    assert env.post_xml(REQUEST).status_code == 413
    env.app.config["MAX_CONTENT_LENGTH"] = 24 * 1024 * 1024
    response = env.client.post(
        "/api/v1/documents",
        data=REQUEST,
        headers={"X-API-Key": env.keys["KZ-MVD"], "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.json["error"] == "unsupported_media_type"


def test_sending_for_another_authority_is_403(env: Env) -> None:
    response = env.post_xml(REQUEST, authority="KZ-MTSZN")
    assert response.status_code == 403 and "KZ-MTSZN" in response.json["message"]


def test_unauthorised_signatory_is_403_and_takes_no_number(env: Env) -> None:
    wrong = with_new_id(REQUEST).replace(b"<signatory>KZ-MVD-001", b"<signatory>BY-MVD-001")
    response = env.post_xml(wrong)
    assert response.status_code == 403
    assert response.json["details"][0]["reason"] == "wrong-authority"
    ok = env.post_xml(with_new_id(REQUEST))
    assert ok.json["registration_number"] == f"KZ-MVD-{YEAR}-000001"


def test_idempotent_on_upstream_id(env: Env) -> None:
    first = env.post_xml(REQUEST)
    again = env.post_xml(REQUEST)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    changed = env.post_xml(REQUEST.replace(b"2026-07-02", b"2026-07-03"))
    assert changed.status_code == 409
    assert first.json["registration_number"] in changed.json["message"]
    listed = env.client.get("/api/v1/documents", headers={"X-API-Key": env.keys["KZ-MVD"]})
    assert listed.json["total"] == 1


def test_registration_numbers_are_sequential_per_authority(env: Env) -> None:
    numbers = [env.post_xml(with_new_id(REQUEST)).json["registration_number"] for _ in range(3)]
    assert numbers == [f"KZ-MVD-{YEAR}-00000{i}" for i in (1, 2, 3)]
    by = (SAMPLES_DIR / "response-photo.xml").read_bytes()
    response = env.post_xml(by, authority="BY-MVD")
    assert response.status_code == 201, response.json
    assert response.json["registration_number"] == f"BY-MVD-{YEAR}-000001"


def test_list_filters_and_pagination(env: Env) -> None:
    for _ in range(3):
        env.post_xml(with_new_id(REQUEST))
    headers = {"X-API-Key": env.keys["KZ-MVD"]}
    page = env.client.get("/api/v1/documents?page_size=2&page=2", headers=headers).json
    assert page["total"] == 3 and len(page["items"]) == 1
    assert env.client.get("/api/v1/documents?type=response", headers=headers).json["total"] == 0
    found = env.client.get("/api/v1/documents?q=000002", headers=headers).json
    assert [d["registration_number"] for d in found["items"]] == [f"KZ-MVD-{YEAR}-000002"]
    assert (
        env.client.get("/api/v1/documents?counterpart=BY-MVD", headers=headers).json["total"] == 3
    )
    assert (
        env.client.get("/api/v1/documents?date_from=2026-11-21", headers=headers).json["total"] == 0
    )
    bad = env.client.get("/api/v1/documents?date_from=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.json["details"][0]["path"] == "?date_from"


def test_every_create_and_read_is_audited(env: Env) -> None:
    from service.store import audit
    from service.store.tables import AuditEntry

    body = env.post_xml(REQUEST).json
    env.client.get(body["links"]["pdf"], headers={"X-API-Key": env.keys["BY-MVD"]})
    with env.services.database.reading() as session:
        entries = session.query(AuditEntry).order_by(AuditEntry.seq).all()
        actions = [(e.action, e.target) for e in entries if e.action.startswith("document")]
        assert actions == [("document.create", body["id"]), ("document.read.pdf", body["id"])]
        assert all(e.address == "127.0.0.1" for e in entries if e.action.startswith("document"))
        assert audit.verify(session) == (len(entries), [])


def test_healthz(env: Env) -> None:
    response = env.client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_error_bodies_are_json_everywhere(env: Env) -> None:
    response = env.client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and json.loads(response.data)["error"] == "not_found"


def test_signed_document_stays_pdfa_with_the_block_drawn_by_the_renderer(
    sqlite_env: Env, tmp_path: Path
) -> None:
    from tests import pdfinspect
    from tests.signing import pdfcheck

    body = sqlite_env.post_xml(REQUEST).json
    pdf = sqlite_env.client.get(
        body["links"]["pdf"], headers={"X-API-Key": sqlite_env.keys["KZ-MVD"]}
    ).data
    assert pdfcheck.xmp_pdfaid(pdf) == ("3", "U")
    assert pdfcheck.info_producer(pdf) == pdfcheck.xmp_producer(pdf)
    widget = pdfcheck.signature_widget(pdf)
    assert int(widget["/F"]) & 4  # Print
    assert "/N" in widget["/AP"]
    fonts = {row[0].split("+")[1] for row in pdfinspect.fonts(pdf, tmp_path)}
    assert fonts <= {"Doc-Serif", "Doc-Serif-Bold", "Doc-Serif-Italic"}
    text = " ".join(pdfinspect.text(pdf, tmp_path).split())
    assert "ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ" in text
    assert f"Регистрационный номер: {body['registration_number']}" in text
    assert f"verify?document={body['registration_number']}" in text
    for page in pdfinspect.reader(pdf).pages:
        for xobject in page["/Resources"].get("/XObject", {}).values():
            assert xobject.get_object().get("/Interpolate") in (None, False)


def test_failure_after_the_files_were_written_leaves_no_file_and_voids_the_number(
    sqlite_env: Env,
) -> None:
    from service.store import audit
    from service.store.tables import AuditEntry, Issuance, StoredDocument

    storage = sqlite_env.services.storage
    real_put = storage.put

    def failing_put(key: str, data: bytes) -> None:
        if key.endswith(".xml"):
            raise OSError(28, "No space left on device")
        real_put(key, data)

    storage.put = failing_put  # type: ignore[method-assign]
    try:
        response = sqlite_env.post_xml(REQUEST)
    finally:
        storage.put = real_put  # type: ignore[method-assign]
    assert response.status_code == 500
    assert response.json["error"] == "internal_error"
    with sqlite_env.services.database.reading() as session:
        assert session.query(StoredDocument).count() == 0
        assert session.query(AuditEntry).filter(AuditEntry.action == "document.create").count() == 0
        void = session.query(Issuance).one()
        assert (void.registration_number, void.status) == (f"KZ-MVD-{YEAR}-000001", "void")
        assert void.reason == "internal error (OSError)"
    root = sqlite_env.services.settings.storage_dir
    assert root is not None
    assert [p for p in root.rglob("*") if p.is_file()] == []
    # The same documentId may be sent again; the void number is never reused.
    retry = sqlite_env.post_xml(REQUEST)
    assert retry.status_code == 201
    assert retry.json["registration_number"] == f"KZ-MVD-{YEAR}-000002"
    with sqlite_env.services.database.reading() as session:
        assert audit.verify(session)[1] == []


def test_a_signature_larger_than_its_slot_is_signed_the_usual_way(
    sqlite_env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import signing.api

    # The renderer writes the empty signature with room for the CMS; a chain or token too
    # large for it must not cost the document: it is rendered again and signed by pyHanko.
    monkeypatch.setattr(signing.api, "BYTES_RESERVED_BASE", 256)
    response = sqlite_env.post_xml(REQUEST)
    assert response.status_code == 201, response.json
    assert "signing " + response.json["registration_number"] + " again" in caplog.text
    pdf = sqlite_env.client.get(
        response.json["links"]["pdf"], headers={"X-API-Key": sqlite_env.keys["KZ-MVD"]}
    ).data
    assert pdf.count(b"%%EOF") == 2  # the rendered file and pyHanko's signature update
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out and "Total document signed" in out


def test_a_posted_document_is_one_revision_signed_whole(sqlite_env: Env, tmp_path: Path) -> None:
    response = sqlite_env.post_xml(REQUEST)
    pdf = sqlite_env.client.get(
        response.json["links"]["pdf"], headers={"X-API-Key": sqlite_env.keys["KZ-MVD"]}
    ).data
    assert pdf.count(b"%%EOF") == 1  # the renderer wrote the signature field itself
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out and "Total document signed" in out
