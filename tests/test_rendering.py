"""Every valid sample renders to a PDF/A-3u that carries its source XML and its text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import qrcode
import qrcode.constants
from PIL import Image

from service.errors import FontMissing, InconsistentDocument, RenderError
from service.pipeline.rendering import AssetFetcher, Renderer, default_renderer, qr_png
from service.pipeline.stages import parse_document, render_document
from service.pipeline.vocabulary import AUTHORITIES
from tests import pdfinspect
from tests.conftest import VALID_SAMPLES

SAMPLE_NAMES = [p.name for p in VALID_SAMPLES]
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def _flat(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch in "'’")


def test_there_are_samples_of_every_type() -> None:
    types = {parse_document(p.read_bytes()).document_type for p in VALID_SAMPLES}
    assert types == {
        "request",
        "response",
        "refusal-notice",
        "additional-information-request",
        "delay-notice",
        "postponement-notice",
        "authenticity-confirmation-request",
        "authenticity-confirmation",
        "unsolicited-information",
        "confidentiality-notice",
        "third-party-consent-request",
        "third-party-consent",
        "additional-information",
        "conditions-decision",
        "confidentiality-decision",
        "request-withdrawal",
    }


_HEADINGS: dict[str, tuple[str, ...]] = {
    "response": ("пункт 3 статьи 10 Соглашения",),
    "refusal-notice": ("Основания отказа", "Причины отказа"),
    "additional-information-request": (
        "Запрос дополнительных сведений",
        "Запрашиваемые дополнительные сведения",
        "Обоснование необходимости дополнительных сведений",
        "абзац второй пункта 1 статьи 10 Соглашения",
    ),
    "delay-notice": (
        "Описание обстоятельств",
        "абзац третий пункта 1 статьи 10 Соглашения",
    ),
    "postponement-notice": ("Основание", "Пояснения", "пункт 2 статьи 10 Соглашения"),
    "authenticity-confirmation-request": (
        "Документ, вызывающий сомнения",
        "Основания для сомнений",
        "пункт 5 статьи 9 Соглашения",
    ),
    "authenticity-confirmation": (
        "Результат проверки",
        "Пояснения",
        "пункт 5 статьи 9 Соглашения",
    ),
    "unsolicited-information": (
        "Информация без запроса",
        "Краткое изложение",
        "Содержание информации",
        "абзац второй статьи 8 Соглашения",
    ),
    "confidentiality-notice": (
        "Обстоятельства, препятствующие сохранению конфиденциальности",
        "Решение запрашивающей Стороны",
        "следует ли исполнять запрос на таких условиях",
        "абзац второй пункта 1 статьи 11 Соглашения",
    ),
    "third-party-consent-request": (
        "Документы, содержащие сведения",
        "Третья сторона",
        "Передаваемые сведения",
        "Цель передачи",
        "пункт 3 статьи 11 Соглашения",
    ),
    "third-party-consent": ("Третья сторона", "пункт 3 статьи 11 Соглашения"),
    "additional-information": (
        "Дополнительные сведения",
        "абзац второй пункта 1 статьи 10 Соглашения",
    ),
    "conditions-decision": ("Ответ об условиях", "пункт 2 статьи 10 Соглашения"),
    "confidentiality-decision": (
        "Решение о конфиденциальности",
        "абзац второй пункта 1 статьи 11 Соглашения",
    ),
    "request-withdrawal": ("Причины отзыва запроса", "статья 8 Соглашения"),
}
"""Headings and article citations each document type prints (besides «На № …»)."""


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_text_shows_names_authorities_and_sections(name, rendered_samples, tmp_path) -> None:
    raw, rendered = rendered_samples[name]
    doc = parse_document(raw)
    text = " ".join(pdfinspect.text(rendered.pdf, tmp_path).split())
    # Lines may break (and hyphenate) anywhere: compare without hyphens and spaces.
    flat = _flat(text)
    for authority in (doc.header.sender, doc.header.recipient):
        assert _flat(AUTHORITIES[authority].name_ru) in flat
    for person in doc.persons:
        assert _flat(str(person.name_cyrillic)) in flat
        assert _flat(str(person.name_latin)) in flat
    if doc.document_type == "request":
        for heading in (
            "Краткое изложение существа запроса",
            "Цель запроса",
            "Обоснование запроса",
        ):
            assert heading in text
    for heading in _HEADINGS.get(doc.document_type, ()):
        assert heading in text, heading
    in_reply_to = getattr(doc, "in_reply_to", None)
    if doc.document_type != "request":
        assert doc.document_type in _HEADINGS
    if in_reply_to is not None:
        assert f"На № {in_reply_to.registration_number}" in text
    # Long registration numbers (the sample's file name) may break at a hyphen.
    assert _flat(f"TEST-{Path(name).stem}") in flat
    assert "стр. 1 из" in text


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_pdfa3_identification_and_xmp_schemas(name, rendered_samples) -> None:
    _, rendered = rendered_samples[name]
    root = pdfinspect.xmp(rendered.pdf)
    ident = [
        d
        for d in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")
        if d.get(f"{PDFAID}part")
    ]
    assert [(d.get(f"{PDFAID}part"), d.get(f"{PDFAID}conformance")) for d in ident] == [("3", "U")]
    for prop in pdfinspect.xmp_properties(root):
        namespace = prop[1:].split("}")[0]
        assert namespace in pdfinspect.PREDEFINED_XMP_NAMESPACES, prop
    identifiers = [e.text for e in root.iter("{http://purl.org/dc/elements/1.1/}identifier")]
    assert identifiers == [f"TEST-{Path(name).stem}"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_output_intent_fonts_and_images(name, rendered_samples, tmp_path) -> None:
    _, rendered = rendered_samples[name]
    catalog = pdfinspect.reader(rendered.pdf).trailer["/Root"]
    intents = catalog["/OutputIntents"]
    assert len(intents) == 1
    intent = intents[0].get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert "sRGB" in intent["/OutputConditionIdentifier"]
    assert intent["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"
    fonts = pdfinspect.fonts(rendered.pdf, tmp_path)
    assert fonts, "no fonts found"
    for row in fonts:
        name_, emb = row[0], row[-5]
        assert emb == "yes", f"font {name_} not embedded"
        assert "Doc-Serif" in name_, f"unexpected font {name_}"
    for page in pdfinspect.reader(rendered.pdf).pages:
        for xobject in page["/Resources"].get("/XObject", {}).values():
            assert xobject.get_object().get("/Interpolate") in (None, False)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_source_xml_is_embedded_byte_for_byte(name, rendered_samples) -> None:
    raw, rendered = rendered_samples[name]
    files = pdfinspect.associated_files(rendered.pdf)
    sources = [f for f in files if f["relationship"] == "/Source"]
    assert len(sources) == 1
    source = sources[0]
    assert source["data"] == raw
    assert source["subtype"] == "/application/xml"
    assert source["F"] == source["UF"] == "source.xml"
    assert len(files) == len({id(f) for f in files})


def test_photo_is_drawn(rendered_samples) -> None:
    _, rendered = rendered_samples["request-photo.xml"]
    images = [
        x.get_object()
        for page in pdfinspect.reader(rendered.pdf).pages
        for x in page["/Resources"].get("/XObject", {}).values()
        if x.get_object().get("/Subtype") == "/Image"
    ]
    assert images and images[0]["/Width"] == 300


def test_multipage_request_spans_pages_and_reserves_signature_area(rendered_samples) -> None:
    _, rendered = rendered_samples["request-multipage.xml"]
    assert rendered.page_count >= 3
    area = rendered.signature_area
    assert area is not None and area.page_index == rendered.page_count - 1
    assert pytest.approx(area.x2 - area.x1, abs=1) == 170 * 72 / 25.4
    assert pytest.approx(area.y2 - area.y1, abs=1) == 42 * 72 / 25.4


def test_unprintable_character_is_refused(sample_path: Path) -> None:
    raw = sample_path.read_bytes().replace(
        "г. Гродно, Республика".encode(), "г. 格罗德诺, Республика".encode(), 1
    )
    with pytest.raises(InconsistentDocument) as info:
        render_document(raw)
    (violation,) = info.value.violations
    assert "U+683C" in violation.message
    assert violation.path == "/request/persons/person/birthPlace"


def test_missing_font_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FontMissing, match=r"PTF55F\.ttf"):
        Renderer(fonts_from=tmp_path)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://127.0.0.1/x.png", "asset:font/../../etc/passwd", "photo:99"],
)
def test_fetcher_refuses_everything_but_our_assets(url: str) -> None:
    from weasyprint.urls import FatalURLFetchingError

    with pytest.raises(FatalURLFetchingError):
        AssetFetcher({"serif-regular": b"x"}, {"1": b"y"}).fetch(url)


def test_template_cannot_reach_files(sample_path: Path) -> None:
    renderer = default_renderer()
    doc = parse_document(sample_path.read_bytes())
    html = renderer.html(doc).replace("</body>", '<img src="file:///etc/hostname"></body>')
    with pytest.raises(RenderError, match="not allowed"):
        renderer.pdf(doc, html, b"<x/>")


def test_text_is_escaped(sample_path: Path, tmp_path: Path) -> None:
    raw = sample_path.read_bytes().replace(
        "Принятие решения".encode(), "&lt;b&gt;Принятие&lt;/b&gt; &amp; решения".encode(), 1
    )
    rendered = render_document(raw)
    assert "<b>Принятие</b> & решения" in pdfinspect.text(rendered.pdf, tmp_path)


def test_font_of_another_version_is_an_error(tmp_path: Path) -> None:
    from service.pipeline.rendering import FONT_FILES, font_dir

    for name, _ in FONT_FILES.values():
        (tmp_path / name).write_bytes((font_dir() / name).read_bytes())
    (tmp_path / "PTF75F.ttf").write_bytes(b"\0" + (font_dir() / "PTF75F.ttf").read_bytes())
    with pytest.raises(FontMissing, match=r"PTF75F\.ttf is not the pinned version"):
        Renderer(fonts_from=tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "https://migdocs.example/verify?n=KZ-MVD-2026-000123",
        "http://127.0.0.1:8000/verify?n=BY-GPK-2026-000001&v=" + "f" * 64,
    ],
)
def test_qr_png_draws_exactly_what_qrcode_draws(url: str) -> None:
    """The QR image is built from the module matrix; qrcode's own renderer is the reference."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=2, mask_pattern=0
    )
    code.add_data(url)
    code.make()
    expected = code.make_image(fill_color="black", back_color="white").get_image().convert("1")
    drawn = Image.open(io.BytesIO(qr_png(url)))
    assert drawn.format == "PNG" and drawn.mode == "1"
    assert drawn.size == expected.size
    assert drawn.tobytes() == expected.tobytes()
    assert qr_png(url + "x") != qr_png(url)
