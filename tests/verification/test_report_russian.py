"""The verification report reads as Russian and keeps its rows whole (issue 12, item 3).

Real service output, the real /verify page and the real sealed PDF report: certificate
names in Russian (not «Common Name», «Organization»), schema errors of an embedded XML in
Russian on the page, and no table row of the report split across two pages.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
import weasyprint

from service.errors import InputError
from service.paths import SAMPLES_DIR
from service.pipeline.messages_ru import russian_refusal
from service.pipeline.rendering import default_renderer
from service.pipeline.xmlinput import load
from tests.verification.conftest import Env, Signed
from tests.verification.test_page import hidden_fields, upload

INVALID = sorted((SAMPLES_DIR / "invalid").glob("*.xml"))


def _flat(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _pages(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [page for page in out.split("\f") if page.strip()]


def _pdf_carrying(xml: bytes) -> bytes:
    return (
        default_renderer()
        .pdf_from_html(
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
        .pdf
    )


def test_certificate_names_in_russian_and_rows_whole(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    fields = hidden_fields(upload(sqlite_env, signed.pdf))
    report = json.loads(sqlite_env.client.post("/verify/report.json", data=fields).data)
    pdf = sqlite_env.client.post("/verify/report.pdf", data=fields).data
    pages = _pages(pdf, tmp_path)
    assert len(pages) >= 2, "the report must run over a page break to test rows"
    text = " ".join(" ".join(pages).split())
    assert "Common Name" not in text and "Organization" not in text
    assert "Имя (CN): Ахметов Ержан Серикович" in text
    assert "Организация: Министерство внутренних дел Республики Казахстан" in text
    assert "Страна: Казахстан (KZ)" in text
    # every row of every check table: title and the start of its message on one page
    checks = [c for s in report["signatures"] for c in s["checks"]] + report["checks"]
    assert len(checks) >= 10
    flat_pages = [_flat(p) for p in pages]
    for check in checks:
        title, start = _flat(check["title"]), _flat(check["message"])[:24]
        assert any(title in p and start in p for p in flat_pages), check["code"]


def test_the_sealed_report_explains_schema_errors_in_russian(
    sqlite_env: Env, tmp_path: Path
) -> None:
    xml = (SAMPLES_DIR / "request-photo.xml").read_text("utf-8")
    broken = xml.replace("<topic>", "<unexpected/><topic>", 1)
    fields = hidden_fields(upload(sqlite_env, _pdf_carrying(broken.encode())))
    pdf = sqlite_env.client.post("/verify/report.pdf", data=fields).data
    text = _flat(" ".join(_pages(pdf, tmp_path)))
    assert _flat("Исходный XML не соответствует схеме") in text
    assert _flat("элемент <unexpected> здесь не допускается; ожидается <topic>") in text
    assert "notallowed" not in text


def test_schema_errors_on_the_page_in_russian(sqlite_env: Env) -> None:
    xml = (SAMPLES_DIR / "request-photo.xml").read_text("utf-8")
    broken = xml.replace("<topic>", "<unexpected/><topic>", 1).replace(
        "<sex>female</sex>", "<sex>женский</sex>", 1
    )
    page = upload(sqlite_env, _pdf_carrying(broken.encode()))
    text = " ".join(page.split())
    assert "Исходный XML не соответствует схеме" in text
    assert "XML-документ не соответствует схеме (нарушений: 2)" in text
    assert "элемент &lt;unexpected&gt; здесь не допускается" in text
    assert "не входит в перечень допустимых значений: male, female" in text
    assert "is not allowed" not in text and "is not one of" not in text


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_every_invalid_sample_is_explained_in_russian(path: Path) -> None:
    try:
        load(path.read_bytes())
    except InputError as exc:
        text = russian_refusal(exc)
    else:
        return  # refused by a later stage (Art. 5 and the like), not by the schema
    assert text.splitlines()[0].startswith("XML-документ")
    assert "на английском языке" not in text, text
