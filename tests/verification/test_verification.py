"""The done-when cases of verification, through the core, the API and the CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from service.cli.main import main
from service.pipeline.rendering import FORM_VERSION
from signing.registry import Registry
from tests.verification.conftest import (
    Env,
    Signed,
    append_page,
    flip_byte_in_signed_range,
    jpeg_bytes,
    post_and_fetch,
)


def verify(environment: Env, pdf: bytes, **kwargs: Any) -> dict[str, Any]:
    response = environment.client.post(
        "/api/v1/verifications", data=pdf, content_type="application/pdf", **kwargs
    )
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def check(checks: list[dict[str, Any]], code: str) -> dict[str, Any]:
    [found] = [c for c in checks if c["code"] == code]
    return found


def test_valid_document_is_total_passed(env: Env) -> None:
    signed = post_and_fetch(env)
    report = verify(env, signed.pdf)
    assert report["indication"] == "TOTAL_PASSED" and report["valid"] is True
    assert report["sub_indication"] is None
    [sig] = report["signatures"]
    assert sig["indication"] == "TOTAL_PASSED"
    statuses = {c["code"]: c["status"] for c in sig["checks"]}
    assert set(statuses) == {
        "format",
        "integrity",
        "cryptographic_validity",
        "certificate_chain",
        "revocation",
        "timestamp",
        "signing_time",
        "coverage",
        "modifications",
        "registered_signatory",
    }
    for code in ("format", "integrity", "cryptographic_validity", "certificate_chain"):
        assert statuses[code] == "PASSED", code
    assert statuses["coverage"] == statuses["modifications"] == "PASSED"
    assert statuses["registered_signatory"] == "PASSED"
    assert sig["signatory"]["signatory_id"] == "KZ-MVD-001"
    assert sig["best_signing_time"] == signed.signed_at.isoformat()
    assert report["registration_number"] == signed.registration_number
    assert report["document_type"] == "request"
    assert report["form_version"] == FORM_VERSION
    assert report["pdfa"] == "PDF/A-3U"
    assert report["page_count"] == 2
    assert report["source_xml"]["present"] and report["source_xml"]["schema_valid"]
    assert report["known"]["registration_number"] == signed.registration_number
    doc = {c["code"]: c["status"] for c in report["checks"]}
    assert doc == {
        "signatures": "PASSED",
        "pdfa": "PASSED",
        "source_xml": "PASSED",
        "source_xml_schema": "PASSED",
        "source_xml_consistency": "PASSED",
        "form_version": "PASSED",
        "known_document": "PASSED",
    }
    assert all(c["message"] and c["title"] for c in sig["checks"] + report["checks"])


def test_multipart_upload_gives_the_same_report(sqlite_env: Env, signed: Signed) -> None:
    import io

    response = sqlite_env.client.post(
        "/api/v1/verifications",
        data={"file": (io.BytesIO(signed.pdf), "document.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert response.json["indication"] == "TOTAL_PASSED"


def test_one_byte_flipped_in_signed_range_is_hash_failure(sqlite_env: Env, signed: Signed) -> None:
    report = verify(sqlite_env, flip_byte_in_signed_range(signed.pdf))
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    [sig] = report["signatures"]
    assert check(sig["checks"], "integrity")["status"] == "FAILED"
    assert report["known"] is None
    assert check(report["checks"], "known_document")["status"] == "WARNING"


def test_certificate_from_unknown_ca_is_no_certificate_chain_found(
    sqlite_env: Env, foreign_signed_pdf: bytes
) -> None:
    report = verify(sqlite_env, foreign_signed_pdf)
    assert (report["indication"], report["sub_indication"]) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )
    [sig] = report["signatures"]
    assert check(sig["checks"], "integrity")["status"] == "PASSED"
    assert check(sig["checks"], "certificate_chain")["status"] == "FAILED"
    assert "Unrelated Test CA" in check(sig["checks"], "certificate_chain")["message"]
    # not a registered signatory either
    assert check(sig["checks"], "registered_signatory")["status"] == "FAILED"


def _revoke(environment: Env, at_offset: timedelta, signed: Signed) -> None:
    with environment.services.database.transaction() as session:
        Registry(session).revoke_signatory(
            "KZ-MVD-001", signed.signed_at + at_offset, "полномочия прекращены"
        )


def test_signatory_window_closed_before_signing_fails_registry_check(
    sqlite_env: Env, signed: Signed
) -> None:
    assert verify(sqlite_env, signed.pdf)["indication"] == "TOTAL_PASSED"  # warms the cache
    _revoke(sqlite_env, -timedelta(minutes=5), signed)
    report = verify(sqlite_env, signed.pdf)
    [sig] = report["signatures"]
    registry = check(sig["checks"], "registered_signatory")
    assert registry["status"] == "FAILED"
    assert registry["detail"] == "revoked"
    assert "не был уполномочен" in registry["message"]
    assert (sig["indication"], sig["sub_indication"]) == (
        "INDETERMINATE",
        "SIG_CONSTRAINTS_FAILURE",
    )
    # cryptography is still fine: only the policy check fails
    assert check(sig["checks"], "integrity")["status"] == "PASSED"


def test_signatory_revoked_after_signing_without_timestamp_is_revoked_no_poe(
    sqlite_env: Env, signed: Signed
) -> None:
    """B-B: the claimed time is only a claim (it could be back-dated), so a signatory
    revoked now with no timestamp proving the earlier signature is INDETERMINATE."""
    _revoke(sqlite_env, timedelta(seconds=1), signed)
    wait = (signed.signed_at + timedelta(seconds=1.2) - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, wait))  # the revocation must have taken effect "now"
    report = verify(sqlite_env, signed.pdf)
    [sig] = report["signatures"]
    registry = check(sig["checks"], "registered_signatory")
    assert registry["status"] == "WARNING" and registry["detail"] == "revoked"
    assert "на момент проверки" in registry["message"]
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert sig["level"] == "B-B"


def test_page_appended_after_signing_is_flagged_with_what_changed(
    sqlite_env: Env, signed: Signed
) -> None:
    report = verify(sqlite_env, append_page(signed.pdf))
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    [sig] = report["signatures"]
    assert check(sig["checks"], "integrity")["status"] == "PASSED"
    assert sig["coverage"] == "ENTIRE_REVISION"
    assert sig["modification_level"] == "OTHER"
    modifications = check(sig["checks"], "modifications")
    assert modifications["status"] == "FAILED"
    assert "Добавлена страница № 3 (страниц при подписании: 2, сейчас: 3)" in sig["changes"]
    assert "Добавлена страница № 3" in modifications["message"]
    assert report["page_count"] == 3


def test_pdf_without_signature(sqlite_env: Env, unsigned_pdf: bytes) -> None:
    report = verify(sqlite_env, unsigned_pdf)
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "NO_SIGNATURE")
    assert report["signature_count"] == 0 and report["signatures"] == []
    assert report["file_kind"] == "pdf"
    assert "нет электронной подписи" in report["summary"]
    assert check(report["checks"], "source_xml")["status"] == "PASSED"


def test_jpeg_renamed_pdf_gets_a_report(sqlite_env: Env) -> None:
    import io

    response = sqlite_env.client.post(
        "/api/v1/verifications",
        data={"file": (io.BytesIO(jpeg_bytes()), "scan.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    report = response.json
    assert (report["file_kind"], report["sub_indication"]) == ("not_pdf", "NOT_A_PDF")
    assert report["indication"] == "INDETERMINATE"
    assert "JPEG" in report["summary"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda pdf: pdf[: len(pdf) // 3],
        lambda pdf: pdf[:200] + b"\x00" * 5000 + pdf[5200:],
        lambda pdf: b"%PDF-1.7\n" + b"garbage " * 100,
    ],
    ids=["truncated", "zeroed", "garbage"],
)
def test_damaged_pdf_gets_a_report_not_an_error(
    sqlite_env: Env, signed: Signed, damage: Any
) -> None:
    report = verify(sqlite_env, damage(signed.pdf))
    assert report["indication"] in ("INDETERMINATE", "TOTAL_FAILED")
    assert report["indication"] != "TOTAL_PASSED"


def test_upload_over_the_size_limit_is_413(sqlite_env: Env) -> None:
    import io

    sqlite_env.app.config["MAX_CONTENT_LENGTH"] = 10_000
    big = b"%PDF-1.7\n" + b"0" * 20_000
    raw = sqlite_env.client.post("/api/v1/verifications", data=big, content_type="application/pdf")
    assert raw.status_code == 413 and raw.json["error"] == "too_large"
    multipart = sqlite_env.client.post(
        "/api/v1/verifications",
        data={"file": (io.BytesIO(big), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 413
    page = sqlite_env.client.post(
        "/verify", data={"file": (io.BytesIO(big), "big.pdf")}, content_type="multipart/form-data"
    )
    assert page.status_code == 413


def test_wrong_media_type_is_415(sqlite_env: Env) -> None:
    response = sqlite_env.client.post(
        "/api/v1/verifications", data=b"<x/>", content_type="application/xml"
    )
    assert response.status_code == 415


def test_verifications_are_audited(sqlite_env: Env, signed: Signed) -> None:
    from sqlalchemy import select

    from service.store.tables import AuditEntry

    report = verify(sqlite_env, signed.pdf)
    with sqlite_env.services.database.reading() as session:
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "verification")
        ).scalar_one()
    assert entry.target == report["sha256"] and entry.actor == "anonymous"
    assert json.loads(entry.details)["indication"] == "TOTAL_PASSED"


# ----- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(sqlite_env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("MIGDOCS_INSTANCE", str(sqlite_env.instance))
    monkeypatch.setenv("DATABASE_URL", sqlite_env.services.settings.database_url)
    return sqlite_env


def test_cli_exit_codes_follow_the_indication(
    cli_env: Env, signed: Signed, unsigned_pdf: bytes, foreign_signed_pdf: bytes, tmp_path: Path
) -> None:
    files = {
        "valid.pdf": (signed.pdf, 0, "TOTAL_PASSED"),
        "tampered.pdf": (flip_byte_in_signed_range(signed.pdf), 1, "TOTAL_FAILED"),
        "appended.pdf": (append_page(signed.pdf), 1, "TOTAL_FAILED"),
        "foreign.pdf": (foreign_signed_pdf, 2, "INDETERMINATE"),
        "unsigned.pdf": (unsigned_pdf, 2, "INDETERMINATE"),
        "photo.pdf": (jpeg_bytes(), 2, "INDETERMINATE"),
    }
    runner = CliRunner()
    for name, (data, code, indication) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        text = runner.invoke(main, ["verify", str(path)])
        assert text.exit_code == code, (name, text.output)
        assert indication in text.output.splitlines()[0]
        as_json = runner.invoke(main, ["verify", str(path), "--json"])
        assert as_json.exit_code == code
        assert json.loads(as_json.output)["indication"] == indication
    valid = runner.invoke(main, ["verify", str(tmp_path / "valid.pdf")]).output
    assert "✓ Уполномоченное лицо" in valid
    appended = runner.invoke(main, ["verify", str(tmp_path / "appended.pdf")]).output
    assert "Добавлена страница № 3" in appended
    missing = runner.invoke(main, ["verify", str(tmp_path / "missing.pdf")])
    assert missing.exit_code == 3


def test_cli_trust_root_option_replaces_the_configured_roots(
    cli_env: Env, signed: Signed, tmp_path: Path
) -> None:
    path = tmp_path / "valid.pdf"
    path.write_bytes(signed.pdf)
    by_root = cli_env.instance / "pki" / "by-root.pem"
    result = CliRunner().invoke(main, ["verify", str(path), "--json", "--trust-root", str(by_root)])
    assert result.exit_code == 2
    assert json.loads(result.output)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
