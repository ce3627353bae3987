"""Item 10 of issue 9: the service recognises its own outputs — sealed verification
reports, signatory lists — and identifies sample blank forms as such."""

from __future__ import annotations

from typing import Any

from tests.verification.conftest import Env, Signed
from tests.verification.test_page import hidden_fields, upload
from tests.verification.test_verification import check, verify


def test_sealed_verification_report_is_total_passed_and_known(
    sqlite_env: Env, signed: Signed
) -> None:
    fields = hidden_fields(upload(sqlite_env, signed.pdf))
    sealed = sqlite_env.client.post("/verify/report.pdf", data=fields).data
    report = verify(sqlite_env, sealed)
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_PASSED", None)
    [sig] = report["signatures"]
    registry = check(sig["checks"], "registered_signatory")
    assert (registry["status"], registry["detail"]) == ("PASSED", "service-seal")
    assert report["known"]["kind"] == "verification-report"
    assert check(report["checks"], "known_document")["status"] == "PASSED"


def test_signatory_list_is_total_passed_and_known(sqlite_env: Env) -> None:
    listing: dict[str, Any] = sqlite_env.client.get("/api/v1/signatories").json
    item = next(i for i in listing["lists"] if i["authority"] == "KZ-MVD")
    pdf = sqlite_env.client.get(item["href"]).data
    report = verify(sqlite_env, pdf)
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_PASSED", None)
    assert report["known"]["kind"] == "signatory-list"
    assert report["known"]["sender"] == "KZ-MVD"
    known = check(report["checks"], "known_document")
    assert known["status"] == "PASSED" and "Перечень" in known["message"]


def test_sample_form_is_identified_not_schema_errors(sqlite_env: Env) -> None:
    forms: dict[str, Any] = sqlite_env.client.get("/api/v1/forms").json
    form = forms["forms"][0]
    pdf = sqlite_env.client.get(form["href"]).data
    report = verify(sqlite_env, pdf)
    assert report["sample_form"] == forms["version"]
    # signed for its authority (Art. 9.3) by its head, who may sign in its name
    assert report["indication"] == "TOTAL_PASSED", report["summary"]
    assert check(report["signatures"][0]["checks"], "registered_signatory")["status"] == "PASSED"
    assert "Образец бланка (ОБРАЗЕЦ)" in report["summary"]
    assert "подпись действительна" in report["summary"]
    assert forms["version"] in report["summary"]
    schema = check(report["checks"], "source_xml_schema")
    assert schema["status"] == "WARNING" and schema["detail"] is None
    assert all(c["status"] != "FAILED" for c in report["checks"])
