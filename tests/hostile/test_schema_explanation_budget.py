"""The detailed schema explanation cannot be used to burn CPU (issue 10, item 4).

Before this change 2000 attributes on one element took 31 s in the xmlschema pass; a PDF
carrying such XML, posted anonymously for verification, held a worker as long.
"""

from __future__ import annotations

import io
import re
import time

import weasyprint

from service.paths import SAMPLES_DIR
from service.pipeline.rendering import default_renderer
from service.pipeline.xmlinput import (
    EXPLAIN_MAX_ELEMENTS,
    EXPLAIN_MAX_ERRORS,
    MAX_ATTRIBUTES_PER_ELEMENT,
)

from .conftest import Env, sample_text

SURNAME_PATH = "/request/persons/person/nameCyrillic/surname"


def _many_attributes(count: int) -> bytes:
    attributes = " ".join(f'a{i}="x"' for i in range(count))
    return sample_text().replace("<surname>", f"<surname {attributes}>", 1).encode()


def test_2000_attributes_are_refused_in_under_a_second(env: Env) -> None:
    started = time.monotonic()
    response = env.post_xml(_many_attributes(2000))
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "unsafe_xml"
    [detail] = body["details"]
    assert detail["path"] == SURNAME_PATH
    assert "2000 attributes" in detail["message"]
    assert str(MAX_ATTRIBUTES_PER_ELEMENT) in detail["message"]
    assert elapsed < 1, f"{elapsed:.2f} s"


def test_attributes_on_every_element_get_a_bounded_explanation(env: Env) -> None:
    text = (SAMPLES_DIR / "request-multipage.xml").read_text("utf-8")
    attributes = " ".join(f'a{i}="x"' for i in range(MAX_ATTRIBUTES_PER_ELEMENT))
    hostile = re.sub(r"<([A-Za-z]+)>", rf"<\1 {attributes}>", text)
    assert hostile.count('a0="x"') > 500
    started = time.monotonic()
    response = env.post_xml(hostile.encode())
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert len(details) == EXPLAIN_MAX_ERRORS
    assert "'a0' attribute not allowed" in details[0]["message"]
    assert elapsed < 5, f"{elapsed:.2f} s"


def test_a_large_invalid_document_is_explained_by_libxml2_only(env: Env) -> None:
    extra = "<unexpected/>" * (EXPLAIN_MAX_ELEMENTS + 1)
    hostile = sample_text().replace("</topic>", "</topic>" + extra, 1).encode()
    started = time.monotonic()
    response = env.post_xml(hostile)
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert 1 <= len(details) <= EXPLAIN_MAX_ERRORS
    assert "unexpected" in details[0]["message"]
    assert details[0]["path"] == "/request/unexpected[1]"
    assert elapsed < 3, f"{elapsed:.2f} s"


def _pdf_carrying(xml: bytes) -> bytes:
    rendered = default_renderer().pdf_from_html(
        "<p>Документ</p>",
        attachments=[
            weasyprint.Attachment(
                file_obj=io.BytesIO(xml), name="source.xml", relationship="Source"
            )
        ],
        photos={},
        identifier="urn:uuid:00000000-0000-4000-8000-000000000000",
        types=["request"],
        publisher="test",
        keywords=[],
    )
    return rendered.pdf


def test_verification_of_embedded_xml_is_bounded(env: Env) -> None:
    pdf = _pdf_carrying(_many_attributes(2000))
    started = time.monotonic()
    response = env.client.post("/api/v1/verifications", data=pdf, content_type="application/pdf")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["source_xml"]["present"] and report["source_xml"]["schema_valid"] is False
    checks = {c["code"]: c for c in report["checks"]}
    assert checks["source_xml_schema"]["status"] == "FAILED"
    assert elapsed < 3, f"{elapsed:.2f} s"
    assert env.client.get("/healthz").status_code == 200
