"""Every document type, posted from its samples, verifies TOTAL_PASSED (issue 6)."""

from __future__ import annotations

from typing import Any

import pytest

from service.paths import SAMPLES_DIR
from service.pipeline.document import DOCUMENT_CLASSES
from service.pipeline.stages import parse_document
from tests.cases.xmltools import prepared
from tests.verification.conftest import Env
from tests.verification.test_verification import check, verify

FIRST_SAMPLE = {}
for path in sorted(SAMPLES_DIR.glob("*.xml")):
    FIRST_SAMPLE.setdefault(parse_document(path.read_bytes()).document_type, path)


def test_every_type_has_a_sample() -> None:
    assert set(FIRST_SAMPLE) == set(DOCUMENT_CLASSES)


@pytest.mark.parametrize("document_type", sorted(DOCUMENT_CLASSES))
def test_signed_document_of_every_type_verifies(sqlite_env: Env, document_type: str) -> None:
    raw = FIRST_SAMPLE[document_type].read_bytes()
    header = parse_document(raw).header
    sender = header.sender

    def post(earlier: bytes, authority: str) -> dict[str, Any]:
        response = sqlite_env.post_xml(earlier, authority=authority)
        assert response.status_code == 201, response.json
        body: dict[str, Any] = response.json
        return body

    raw = prepared(raw, post)  # the documents it names (a reply's request, …) first
    created = sqlite_env.post_xml(raw, authority=sender)
    assert created.status_code == 201, created.json
    pdf = sqlite_env.client.get(
        created.json["links"]["pdf"], headers={"X-API-Key": sqlite_env.keys[sender]}
    ).data
    report = verify(sqlite_env, pdf)
    assert report["indication"] == "TOTAL_PASSED", report["summary"]
    assert check(report["checks"], "known_document")["status"] == "PASSED"
    [signature] = report["signatures"]
    assert check(signature["checks"], "registered_signatory")["status"] == "PASSED"
