"""Sample blank forms (Art. 9.3): every document type × 4 sender authorities, PDF/A-3u,
watermarked «ОБРАЗЕЦ», form version and effective date in the footer and the XMP, visible
placeholders, the sections of the type's schema only, signed for the authority."""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path

import pytest
from lxml import etree
from pyhanko.pdf_utils.reader import PdfFileReader

from service.domain import forms
from service.pipeline.rendering import FORM_EFFECTIVE_DATE, FORM_VERSION, default_renderer
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.pipeline.xmlinput import NAMESPACE
from tests import pdfinspect
from tests.service.conftest import Env

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
PERSON_FORMS = {
    "request",
    "response",
    "additional-information-request",
    "additional-information",  # the requester's answer under Art. 10.1 may carry persons
    "unsolicited-information",
}
"""The types whose schema carries persons (a refusal notice does not)."""
HEADS = {
    "KZ-MVD": "Сапаров Нурлан Болатович",
    "KZ-MTSZN": "Жумабаева Динара Ерлановна",
    "BY-MVD": "Василевский Игорь Петрович",
    "BY-GPK": "Мельников Дмитрий Александрович",
}
CASES = [(t, a) for t in forms.FORM_TYPES for a in AUTHORITIES]


def flat(text: str) -> str:
    """Letters and digits only: lines break and hyphenate anywhere in a PDF."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], forms.SampleForm]:
    """Every form through the process cache (the API below is then served from it)."""
    renderer = default_renderer()
    return {case: forms.FORMS.get(renderer, *case) for case in CASES}


def test_every_document_type_has_a_form_for_every_authority() -> None:
    assert len(CASES) == len(DOCUMENT_TITLES) * len(AUTHORITIES) == 64
    assert [(t, a) for t, _, a in forms.catalogue()] == CASES


@pytest.mark.parametrize(("document_type", "authority"), CASES)
def test_form_is_pdfa3u_with_watermark_and_version(
    document_type: str, authority: str, rendered, tmp_path: Path
) -> None:
    form = rendered[(document_type, authority)]
    assert form.version == FORM_VERSION
    root = pdfinspect.xmp(form.pdf)
    ident = [d for d in root.iter(f"{RDF}Description") if d.get(f"{PDFAID}part")]
    assert [(d.get(f"{PDFAID}part"), d.get(f"{PDFAID}conformance")) for d in ident] == [("3", "U")]
    for prop in pdfinspect.xmp_properties(root):
        assert prop[1:].split("}")[0] in pdfinspect.PREDEFINED_XMP_NAMESPACES, prop
    types = [li.text for t in root.iter(f"{DC}type") for li in t.iter(f"{RDF}li")]
    assert f"migdocs-form:{FORM_VERSION}" in types
    assert document_type in types

    text = pdfinspect.text(form.pdf, tmp_path)
    assert "ОБРАЗЕЦ" in text
    assert f"Форма версии {FORM_VERSION}, действует с " in text
    assert forms.carries_persons(document_type) == (document_type in PERSON_FORMS)
    if document_type in PERSON_FORMS:
        assert "[Фамилия]" in text and "[Surname]" in text
        names = [str(f["UF"]) for f in pdfinspect.associated_files(form.pdf)]
        assert "person-1-obrazec-karta.png" in names and not any(".txt" in n for n in names)
    else:  # no person table a document of this type could never carry
        assert "[Фамилия]" not in text and "Сведения о лицах" not in text
    # visible placeholders, never a plausible value: the only date is the form's own
    assert "[ДД.ММ.ГГГГ]" in text
    dates = set(re.findall(r"\d{2}\.\d{2}\.\d{4}", text))
    assert len(dates) <= 1 and all(f"действует с {d}" in text for d in dates), dates
    assert "Исп. [И.О. Фамилия исполнителя], тел. [телефон]" in " ".join(text.split())
    flat = " ".join(text.split())
    assert DOCUMENT_TITLES[document_type].upper() in flat.upper()
    assert AUTHORITIES[authority].name_ru.upper() in flat.upper()
    for row in pdfinspect.fonts(form.pdf, tmp_path):
        assert row[-5] == "yes", f"font {row[0]} not embedded"
    for page in pdfinspect.reader(form.pdf).pages:
        for xobject in page["/Resources"].get("/XObject", {}).values():
            assert xobject.get_object().get("/Interpolate") in (None, False)


@pytest.mark.parametrize("document_type", forms.FORM_TYPES)
def test_embedded_source_xml_is_well_formed_placeholder(document_type: str, rendered) -> None:
    form = rendered[(document_type, "BY-GPK")]
    sources = [f for f in pdfinspect.associated_files(form.pdf) if f["relationship"] == "/Source"]
    assert len(sources) == 1
    assert sources[0]["subtype"] == "/application/xml"
    data = sources[0]["data"]
    assert isinstance(data, bytes)
    root = etree.fromstring(data)  # well-formed
    assert root.tag == f"{{{NAMESPACE}}}{document_type}"
    assert root.get("sample") == "true"
    assert root.get("formVersion") == FORM_VERSION
    assert root.findtext(f"{{{NAMESPACE}}}header/{{{NAMESPACE}}}sender") == "BY-GPK"
    # the form has the sections of its schema, in the schema's order, and no other
    children = [etree.QName(c).localname for c in root if isinstance(c.tag, str)]
    allowed = forms.schema_children(document_type)
    assert children == [name for name in allowed if name in children], children
    assert ("persons" in children) == ("persons" in allowed)
    assert "0001-01-01" not in data.decode() and "2026-01-01" not in data.decode()


def test_forms_are_cached_per_process(rendered) -> None:
    started = time.perf_counter()
    again = forms.FORMS.get(default_renderer(), "request", "KZ-MVD")
    assert again is rendered[("request", "KZ-MVD")]
    assert time.perf_counter() - started < 0.05


def test_api_lists_every_form_and_serves_it_signed(
    sqlite_env: Env, rendered, tmp_path: Path
) -> None:
    body = sqlite_env.client.get("/api/v1/forms").json
    assert body["version"] == FORM_VERSION
    assert body["effective_from"] == FORM_EFFECTIVE_DATE.isoformat()
    listed = body["forms"]
    assert [(f["document_type"], f["authority"]) for f in listed] == CASES
    checked = 0
    for f in listed:
        assert f["title_ru"] == DOCUMENT_TITLES[f["document_type"]]
        assert f["version"] == FORM_VERSION
        response = sqlite_env.client.get(f["href"])
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert "max-age=" in response.headers["Cache-Control"]
        assert "public" in response.headers["Cache-Control"]
        # served once signed, then from the cache: the same bytes
        assert sqlite_env.client.get(f["href"]).data == response.data
        if f["document_type"] in ("request", "refusal-notice"):
            path = tmp_path / "form.pdf"
            path.write_bytes(response.data)
            report = subprocess.run(
                ["pdfsig", str(path)], capture_output=True, check=False
            ).stdout.decode("utf-8", errors="replace")
            assert "Signature is Valid" in report, report
            assert "Total document signed" in report, report
            [sig] = PdfFileReader(io.BytesIO(response.data)).embedded_signatures
            reason = str(sig.sig_object["/Reason"])
            assert reason.startswith("Образец бланка «") and f"версия {FORM_VERSION}" in reason
            # signed by the head of the authority (the demo registry names no one else)
            head = sig.signer_cert.subject.native["common_name"]
            assert head == HEADS[f["authority"]], head
            text = flat(pdfinspect.text(response.data, tmp_path))
            assert flat("Утверждён и подписан электронной подписью:") in text
            assert flat(HEADS[f["authority"]].split()[0] + " (пункт 3 статьи 9") in text
            assert flat(f"версия {FORM_VERSION}, действует с ") in text
            checked += 1
    assert checked == 8


def test_default_authority_and_conditional_get(sqlite_env: Env, rendered) -> None:
    response = sqlite_env.client.get("/api/v1/forms/response.pdf")
    assert response.status_code == 200
    assert (
        response.data == sqlite_env.client.get("/api/v1/forms/response.pdf?authority=KZ-MVD").data
    )
    etag = response.headers["ETag"]
    again = sqlite_env.client.get("/api/v1/forms/response.pdf", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_unknown_type_is_404_and_unknown_authority_400(sqlite_env: Env) -> None:
    response = sqlite_env.client.get("/api/v1/forms/letter.pdf")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert "document type 'letter'" in response.json["message"]
    # The query parameter is declared with its enum in the OpenAPI document: a value
    # outside it is refused as declared (400), like every query parameter of the API.
    refused = sqlite_env.client.get("/api/v1/forms/request.pdf?authority=RU-MVD")
    assert refused.status_code == 400
    assert refused.json["details"][0]["code"] == "not_allowed"
    assert refused.json["details"][0]["path"] == "?authority"


def test_forms_page_in_russian(sqlite_env: Env) -> None:
    response = sqlite_env.client.get("/forms")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "Образцы бланков документов" in page
    assert f'id="form-effective">{FORM_EFFECTIVE_DATE:%d.%m.%Y}<' in page
    for document_type in forms.FORM_TYPES:
        assert DOCUMENT_TITLES[document_type] in page
    assert page.count('class="form-link"') == len(CASES)
    assert "/api/v1/forms/refusal-notice.pdf?authority=BY-GPK" in page
