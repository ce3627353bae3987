"""The public page /verify and its report downloads (test client), and the seal."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from service.web import verify as verify_web
from tests.verification.conftest import Env, Signed, flip_byte_in_signed_range


def validate_seal(pdf: bytes, root_pem: Path) -> tuple[bool, bool, bool, str]:
    """(intact, valid, trusted, signer subject) of the single signature, by pyHanko."""
    root = x509.Certificate.load(pem.unarmor(root_pem.read_bytes())[2])

    async def run() -> tuple[bool, bool, bool, str]:
        [sig] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
        vc = ValidationContext(trust_roots=[root], allow_fetching=False)
        status = await async_validate_pdf_signature(sig, signer_validation_context=vc)
        await vc.aclose()
        return (
            bool(status.intact),
            bool(status.valid),
            bool(status.trusted),
            status.signing_cert.subject.human_friendly,
        )

    return asyncio.run(run())


def upload(environment: Env, pdf: bytes, name: str = "doc.pdf") -> str:
    response = environment.client.post(
        "/verify", data={"file": (io.BytesIO(pdf), name)}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(report|mac)" value="([^"]*)"', page)[:2])


def test_page_shows_a_green_report_and_every_check(sqlite_env: Env, signed: Signed) -> None:
    page = upload(sqlite_env, signed.pdf)
    assert 'data-indication="TOTAL_PASSED"' in page
    assert "verdict-card ok" in page
    assert "Подпись действительна" in page
    for code in ("integrity", "certificate_chain", "registered_signatory", "known_document"):
        assert f'data-code="{code}"' in page
    assert signed.registration_number in page


def test_page_shows_red_for_a_tampered_document(sqlite_env: Env, signed: Signed) -> None:
    page = upload(sqlite_env, flip_byte_in_signed_range(signed.pdf))
    assert 'data-indication="TOTAL_FAILED"' in page and "verdict-card bad" in page
    assert 'data-code="integrity" data-status="FAILED"' in page


def test_page_headline_follows_the_worst_check_for_one_appended_byte(
    sqlite_env: Env, signed: Signed
) -> None:
    page = upload(sqlite_env, signed.pdf + b"x")
    verdict = page[page.index('id="verdict"') - 80 : page.index('id="summary"') + 300]
    assert "verdict-card bad" in verdict and "Подпись действительна" not in verdict
    assert 'data-code="unsigned_bytes" data-status="FAILED"' in page
    assert "дописано 1 байт" in page
    # no row says the document was not changed next to the one that says it was
    assert "не изменялся" not in page
    assert 'data-status="PASSED"' not in page.split('data-code="coverage"')[1][:40]


def test_headline_is_never_green_next_to_a_failed_check() -> None:
    from service.web.verify import headline

    base: dict[str, Any] = {
        "indication": "TOTAL_PASSED",
        "summary": "Подпись действительна",
        "signatures": [{"checks": [{"code": "integrity", "status": "PASSED"}]}],
        "checks": [{"code": "source_xml_consistency", "status": "PASSED"}],
    }
    assert headline(base) == {"css": "ok", "text": "Подпись действительна"}
    base["checks"][0]["status"] = "FAILED"
    line = headline(base)
    assert line["css"] == "unsure"
    assert line["text"].endswith("не пройдены проверки: Согласованность XML и документа")


def test_page_without_a_file_asks_for_one(sqlite_env: Env) -> None:
    response = sqlite_env.client.post("/verify", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Выберите файл" in response.get_data(as_text=True)


def test_qr_link_asks_for_the_file_and_shows_facts_only_with_its_hash(
    sqlite_env: Env, signed: Signed
) -> None:
    number = signed.registration_number
    page = sqlite_env.client.get(f"/verify?document={number}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="document-check-file"' in text and 'id="document-known"' not in text
    assert "KZ-MVD-001" not in text  # Art. 11.1: the number alone reveals nothing
    sha = hashlib.sha256(signed.pdf).hexdigest()
    page = sqlite_env.client.get(f"/verify?document={number}&sha256={sha}")
    text = page.get_data(as_text=True)
    assert 'id="document-known"' in text
    assert "Запрос" in text and "Министерство внутренних дел Республики Беларусь" in text
    assert "KZ-MVD-001" in text
    # no personal data of the persons the request is about
    assert "Д'Артаньян" not in text and "Анна-Мария" not in text
    unknown = sqlite_env.client.get(f"/verify?document=KZ-MVD-1999-000001&sha256={sha}")
    assert 'id="document-no-match"' in unknown.get_data(as_text=True)
    plain = sqlite_env.client.get("/verify").get_data(as_text=True)
    assert 'id="verify-form"' in plain and "document-info" not in plain


def test_report_downloads_json_and_sealed_pdf(sqlite_env: Env, signed: Signed) -> None:
    fields = hidden_fields(upload(sqlite_env, signed.pdf))
    as_json = sqlite_env.client.post("/verify/report.json", data=fields)
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert "attachment" in as_json.headers["Content-Disposition"]
    body = json.loads(as_json.data)
    assert body["indication"] == "TOTAL_PASSED" and body["file_name"] == "doc.pdf"

    as_pdf = sqlite_env.client.post("/verify/report.pdf", data=fields)
    assert as_pdf.status_code == 200 and as_pdf.mimetype == "application/pdf"
    intact, valid, trusted, subject = validate_seal(
        as_pdf.data, sqlite_env.instance / "pki" / "kz-root.pem"
    )
    assert intact and valid and trusted
    assert "seal" in subject
    assert (sqlite_env.instance / "pki" / "seal.p12").is_file()

    # the report can only be one the service made
    forged = dict(fields, report=fields["report"][:-4] + "AAAA")
    assert sqlite_env.client.post("/verify/report.pdf", data=forged).status_code == 400


def test_report_download_expires(
    sqlite_env: Env, signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept report field cannot have the service seal an old verdict later."""
    fields = hidden_fields(upload(sqlite_env, signed.pdf))
    later = datetime.now(UTC) + verify_web.REPORT_DOWNLOAD_WINDOW + timedelta(minutes=1)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(verify_web, "datetime", Later)
    for route in ("/verify/report.json", "/verify/report.pdf"):
        refused = sqlite_env.client.post(route, data=fields, headers={"Accept": "application/json"})
        assert refused.status_code == 400, route
        assert "verify the file again" in refused.get_json()["message"]
    monkeypatch.undo()
    assert sqlite_env.client.post("/verify/report.json", data=fields).status_code == 200
