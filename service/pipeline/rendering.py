"""Stages 3 and 4 of the pipeline: document model → HTML (Jinja2) → PDF/A-3u (WeasyPrint).

One :class:`Renderer` per process holds everything that is expensive to build: the Jinja2
environment, the parsed stylesheet and the WeasyPrint ``FontConfiguration`` with our fonts
loaded once.  WeasyPrint only reaches resources through :class:`AssetFetcher`, which serves
our fonts and the photos of the document being rendered — no ``file://``, no network.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import io
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import qrcode
import qrcode.constants
import weasyprint
from fontTools.ttLib import TTFont
from lxml import etree
from markupsafe import Markup, escape
from PIL import Image
from weasyprint.pdf.metadata import NS as XMP_NS
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from service.errors import FontMissing, LimitExceeded, RenderError, Violation
from service.paths import TEMPLATE_DIR
from service.pipeline import render_lock, vocabulary
from service.pipeline.document import Document, Person
from service.pipeline.letterhead import Parties, contact_line, seed_parties
from service.pipeline.limits import DEFAULT_LIMITS, Limits
from service.pipeline.serialise_once import SerialiseOnce
from service.pipeline.xmlinput import element_path
from signing import layout
from signing.appearance import SignatureBlockInfo, block_lines, initials_and_surname
from signing.inline import SignatureSlot

PDF_VARIANT = "pdf/a-3u"
FORM_VERSION = "1.1"
"""Version of the templates (the sample blank forms of Art. 9.3); printed into the XMP."""
FORM_EFFECTIVE_DATE = dt.date(2026, 12, 2)
"""The date from which documents are issued on this version of the forms."""
PLACEHOLDER_DATE = dt.date.min
"""A date of a sample form: printed «[ДД.ММ.ГГГГ]», never a plausible date."""

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/paratype")
FONT_FILES: Mapping[str, tuple[str, str]] = {
    "serif-regular": (
        "PTF55F.ttf",
        "d074251529defb38523f3d89cfadfc2491515b32c22f154a8fc6b4c184415a69",
    ),
    "serif-bold": (
        "PTF75F.ttf",
        "71a57caa616bec6f7266bddb176defd481f4edfca357123d4d3d8bb942b10f26",
    ),
    "serif-italic": (
        "PTF56F.ttf",
        "e2b2f71276ed2745ca137fef788246dcd381e88e66d9d23754112f51d73e05fc",
    ),
    "serif-bold-italic": (
        "PTF76F.ttf",
        "4d64a0a0a992b9efbbe4fef6ef1fdb2dcdd97b1dadac68d1c5e3fe0ed193c306",
    ),
}
"""PT Serif (ParaType; Debian ``fonts-paratype`` 20181108-3): a Times-like serif made for
Cyrillic.  Pinned by SHA-256 so that a document renders the same on every machine."""


@dataclass(frozen=True)
class SignatureArea:
    """The rectangle the template reserves for the signature block, in PDF points."""

    page_index: int
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class RenderedDocument:
    """Output of the pipeline before signing."""

    pdf: bytes
    page_count: int
    signature_area: SignatureArea | None


def font_dir() -> Path:
    return Path(os.environ.get("MIGDOCS_FONT_DIR", str(DEFAULT_FONT_DIR)))


FONT_FAMILY = "Doc Serif"
"""The family name the stylesheet gives our fonts."""


def _common_charset(fonts: Any) -> frozenset[int]:
    """Code points every style of the document font can draw."""
    charsets = []
    for data in fonts:
        with TTFont(io.BytesIO(data), lazy=True) as font:
            charsets.append(set(font.getBestCmap()))
    return frozenset(set.intersection(*charsets))


def unprintable_characters(root: etree._Element, charset: frozenset[int]) -> tuple[Violation, ...]:
    """Every text node holding a character the document font cannot draw."""
    problems = []
    for elem in root.iter():
        if not isinstance(elem.tag, str) or elem.get("mediaType"):
            continue  # base64 content (photos, fingerprint cards) is never printed
        missing = sorted(
            {ch for ch in (elem.text or "") if ord(ch) not in charset and not ch.isspace()}
        )
        if missing:
            chars = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in missing[:5])
            problems.append(
                Violation(
                    elem.sourceline,
                    element_path(elem),
                    f"character(s) {chars} cannot be printed: the "
                    "document font has no glyph for them",
                )
            )
    return tuple(problems)


class AssetFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``asset:font/<key>`` and ``photo:<n>``; anything else stops the render."""

    def __init__(self, fonts: Mapping[str, bytes], photos: Mapping[str, bytes] | None = None):
        super().__init__(fail_on_errors=True, allowed_protocols=("asset", "photo"))
        self._fonts = fonts
        self._photos = photos or {}

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme, _, rest = url.partition(":")
        if scheme == "asset" and rest.startswith("font/") and rest[5:] in self._fonts:
            return URLFetcherResponse(url, self._fonts[rest[5:]], {"Content-Type": "font/ttf"})
        if scheme == "photo" and rest in self._photos:
            return URLFetcherResponse(url, self._photos[rest])
        raise FatalURLFetchingError(f"resource not allowed in documents: {url[:80]}")


class _Metadata(DocumentMetadata):  # type: ignore[misc]
    """WeasyPrint metadata plus identifiers in predefined Dublin Core properties.

    PDF/A (ISO 19005-3, 6.6.2.3.1) accepts only predefined or declared XMP schemas, so the
    registration number, the upstream UUID and the document type go into ``dc:identifier``
    and ``dc:type`` rather than a custom namespace.
    """

    def __init__(self, identifier: str, types: list[str], publisher: str, **fields: Any) -> None:
        super().__init__(**fields)
        self._identifier = identifier
        self._types = types
        self._publisher = publisher

    def generate_rdf_metadata(self, variant: str, version: int, conformance: str) -> bytes:
        rdf_ns, dc_ns = XMP_NS["rdf"], XMP_NS["dc"]
        rdf = ET.fromstring(super().generate_rdf_metadata(variant, version, conformance))
        description = ET.SubElement(rdf, f"{{{rdf_ns}}}Description")
        description.set(f"{{{rdf_ns}}}about", "")
        # dc:identifier is a simple Text property: the registration number; the rest are bags.
        ET.SubElement(description, f"{{{dc_ns}}}identifier").text = self._identifier
        for prop, container_tag, values in (
            ("type", "Bag", self._types),
            ("publisher", "Bag", [self._publisher]),
            ("language", "Bag", ["ru"]),
        ):
            container = ET.SubElement(
                ET.SubElement(description, f"{{{dc_ns}}}{prop}"), f"{{{rdf_ns}}}{container_tag}"
            )
            for value in values:
                ET.SubElement(container, f"{{{rdf_ns}}}li").text = value
        return bytes(ET.tostring(rdf, encoding="utf-8"))


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` as a 1-bit PNG, one pixel per module.

    Drawn scaled up with ``image-rendering: pixelated`` (no interpolation, as PDF/A
    wants); a raster of ~40×40 pixels costs WeasyPrint far less than an SVG of paths.
    The image is made from the module matrix in one call: qrcode's own ``make_image``
    draws each of the ~1,000 modules as a PIL rectangle (half the time of the code).
    """
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=2, mask_pattern=0
    )
    code.add_data(url)
    code.make()
    matrix = code.get_matrix()  # border included
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels).convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def migdocs_version() -> str:
    """The installed version, read once: ``importlib.metadata.version`` scans the
    distributions on ``sys.path`` (~2 ms, and a new cached lookup whenever a directory
    on it changes) — per document that was 1–2 % of a 1-page POST."""
    return version("migdocs")


def running_header(
    doc: Document, registration_number: str | None, registration_date: dt.date | None
) -> str:
    """One line naming the document unambiguously on every page: «Запрос № KZ-MVD-2026-000009
    от 20.11.2026»; a reply names what it answers instead of its own date (its number is
    unique): «Ответ № KZ-MVD-2026-000010 на запрос № BY-GPK-2026-000009 от 20.11.2026»."""
    date = registration_date or doc.header.document_date

    def short(value: dt.date) -> str:  # a sample form's «[дата]» keeps the line short
        return "[дата]" if value == PLACEHOLDER_DATE else ru_date(value)

    def number(value: str) -> str:  # an absurd number is whole in the letterhead only
        return value if len(value) <= NOBR_MAX else value[: NOBR_MAX - 1] + "…"

    text = (
        f"{vocabulary.RUNNING_TITLES[doc.document_type]} № {number(registration_number or 'б/н')}"
    )
    reply = getattr(doc, "in_reply_to", None)
    if reply is None:
        return f"{text} от {short(date)}"
    to = "на запрос" if doc.document_type in vocabulary.REPLIES_TO_REQUESTS else "на"
    return f"{text} {to} № {number(reply.registration_number)} от {short(reply.date)}"


NOBR_MAX = 40
"""Numbers up to this length never break across lines; longer ones may (else they would
run off the page)."""


def number_ref(number: str, date: dt.date | None) -> Markup:
    """«№ KZ-MVD-2026-000001 от 02.12.2026», unbreakable when the number is of sane length."""
    text = f"№ {number} от {ru_date(date)}"
    if len(number) > NOBR_MAX:
        return Markup.escape(text)
    return Markup('<span class="ref">{}</span>').format(text)


def ru_date(value: dt.date | None) -> str:
    if value == PLACEHOLDER_DATE:
        return "[ДД.ММ.ГГГГ]"
    return value.strftime("%d.%m.%Y") if value else ""


LONG_WORD = 40
"""Longer runs without a space (no Russian word is this long) are printed in pieces of this
many characters joined by ``<wbr>`` and without hyphenation: WeasyPrint's line breaking is
quadratic in the length of an unbreakable run (a 20,000-character word took minutes)."""
_LONG_RUN = re.compile(rf"\S{{{LONG_WORD + 1},}}")


def _breakable(line: str) -> Markup:
    """Escaped text whose very long runs get break opportunities every LONG_WORD chars."""
    parts: list[Markup] = []
    position = 0
    for match in _LONG_RUN.finditer(line):
        run = match.group()
        pieces = (run[i : i + LONG_WORD] for i in range(0, len(run), LONG_WORD))
        parts.append(escape(line[position : match.start()]))
        parts.append(
            Markup('<span class="unbroken">{}</span>').format(
                Markup("<wbr>").join(escape(piece) for piece in pieces)
            )
        )
        position = match.end()
    parts.append(escape(line[position:]))
    return Markup("").join(parts)


def paragraphs(text: str) -> Markup:
    """Blank-line separated text → escaped ``<p>`` elements; single newlines become ``<br>``."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(_breakable(line) for line in b.split("\n")))
        for b in blocks
    )


def css_string(text: str) -> Markup:
    """A CSS string literal for generated content; safe inside an HTML ``<style>``."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,-/№" else f"\\{ord(ch):x} " for ch in text)
    return Markup(f'"{escaped}"')


def label(code: str, table: str) -> str:
    labels: Mapping[str, str] = getattr(vocabulary, table)
    return labels.get(code, code)


def fingerprint_name(person: Person) -> str:
    card = person.fingerprint_card
    return f"person-{person.number}-{card.file_name}" if card and card.file_name else ""


class Renderer:
    """Everything needed to render, built once per process; ``render`` is thread-safe."""

    def __init__(self, fonts_from: Path | None = None) -> None:
        directory = fonts_from or font_dir()
        fonts: dict[str, bytes] = {}
        for key, (name, sha256) in FONT_FILES.items():
            path = directory / name
            try:
                fonts[key] = path.read_bytes()
            except OSError as exc:
                raise FontMissing(
                    f"font file {path} is missing ({exc.strerror}); install the Debian "
                    "package fonts-paratype or set MIGDOCS_FONT_DIR"
                ) from None
            if hashlib.sha256(fonts[key]).hexdigest() != sha256:
                raise FontMissing(
                    f"font file {path} is not the pinned version (SHA-256 "
                    f"{sha256[:12]}…); install fonts-paratype 20181108-3"
                )
        self._fonts = fonts
        self.printable = _common_charset(fonts.values())
        self.jinja = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=False,
        )
        self.jinja.globals.update(
            number_ref=number_ref, NOBR_MAX=NOBR_MAX, contact_line=contact_line
        )
        self.jinja.filters.update(
            ru_date=ru_date,
            paragraphs=paragraphs,
            label=label,
            country=vocabulary.country_name,
            category=vocabulary.category_name,
            photo_url=lambda p: f"photo:{p.number}",
            fingerprint_name=fingerprint_name,
            css_string=css_string,
        )
        self.font_config = FontConfiguration()
        self.stylesheet = weasyprint.CSS(
            string=(TEMPLATE_DIR / "styles" / "document.css").read_text("utf-8"),
            font_config=self.font_config,
            url_fetcher=AssetFetcher(fonts),
        )
        self.limits = DEFAULT_LIMITS
        """Page and time budget of :meth:`pdf` (documents; not lists or reports)."""

    def bounded(self, limits: Limits) -> Renderer:
        """This renderer (same fonts and templates) with other document limits."""
        bounded = copy.copy(self)
        bounded.limits = limits
        return bounded

    def context(
        self,
        doc: Document,
        registration_number: str | None,
        sample: bool = False,
        signature: SignatureBlockInfo | None = None,
        parties: Parties | None = None,
    ) -> dict[str, Any]:
        """``parties``: the registry versions in force (default: the registry's seed)."""
        parties = parties or seed_parties(doc.header.sender, doc.header.recipient)
        registration_date = (
            signature.signing_time.astimezone(ZoneInfo(signature.timezone)).date()
            if signature is not None
            else None
        )
        return {
            "doc": doc,
            "title": vocabulary.DOCUMENT_TITLES[doc.document_type],
            "registration_date": registration_date,
            "running_header": running_header(doc, registration_number, registration_date),
            "sender": parties.sender,
            "recipient": parties.recipient,
            "confidentiality": vocabulary.CONFIDENTIALITY[doc.header.confidentiality],
            "registration_number": registration_number,
            "purpose_clause": vocabulary.PURPOSE_LIMITATION_CLAUSE,
            "signature_area": {
                "id": layout.SIGNATURE_AREA_ID,
                "width_mm": layout.SIGNATURE_AREA_WIDTH_MM,
                "height_mm": layout.SIGNATURE_AREA_HEIGHT_MM,
            },
            "sample": sample,
            "signature": signature,
            "signature_lines": block_lines(signature) if signature else [],
            "signature_line": {
                "position": " ".join(filter(None, (signature.position, signature.authority))),
                "name": initials_and_surname(signature.full_name),
            }
            if signature
            else None,
            "signature_qr": bool(signature and signature.verification_url),
            "migdocs_version": migdocs_version(),
        }

    def html(
        self,
        doc: Document,
        registration_number: str | None = None,
        sample: bool = False,
        signature: SignatureBlockInfo | None = None,
        parties: Parties | None = None,
    ) -> str:
        """Stage 3: the model as an HTML string.

        With ``signature``, the electronic-signature block is drawn into the reserved
        area here (same lines as the signer's own stamp), and the signer only adds an
        empty widget over it.
        """
        template = self.jinja.get_template(f"{doc.document_type}.html.j2")
        return template.render(self.context(doc, registration_number, sample, signature, parties))

    def pdf(
        self,
        doc: Document,
        html: str,
        source_xml: bytes,
        registration_number: str | None = None,
        signature: SignatureBlockInfo | None = None,
        parties: Parties | None = None,
        slot: SignatureSlot | None = None,
    ) -> RenderedDocument:
        """Stage 4: HTML → PDF/A-3u with the source XML as associated file (and with
        ``slot``, the empty signature over the reserved area: :mod:`signing.inline`)."""
        parties = parties or seed_parties(doc.header.sender, doc.header.recipient)
        photos = {str(p.number): p.photo.data for p in doc.persons if p.photo}
        if signature is not None and signature.verification_url:
            photos["qr"] = qr_png(signature.verification_url)
        attachments = [
            weasyprint.Attachment(
                file_obj=io.BytesIO(source_xml),
                name="source.xml",
                relationship="Source",
                description="Исходный XML-документ (машиночитаемая версия)",
            )
        ]
        for person in doc.persons:
            card = person.fingerprint_card
            if card is not None:
                attachments.append(
                    weasyprint.Attachment(
                        file_obj=io.BytesIO(card.data),
                        name=fingerprint_name(person),
                        relationship="Supplement",
                        description=f"Дактилоскопическая карта, лицо № {person.number}",
                    )
                )
        return self.pdf_from_html(
            html,
            attachments=attachments,
            photos=photos,
            identifier=registration_number or f"urn:uuid:{doc.header.document_id}",
            types=[
                doc.document_type,
                vocabulary.DOCUMENT_TITLES[doc.document_type],
                f"urn:uuid:{doc.header.document_id}",
                f"migdocs-form:{FORM_VERSION}",
            ],
            publisher=parties.sender.name_ru,
            keywords=[doc.document_type, doc.header.sender, doc.header.recipient],
            limits=self.limits,
            slot=slot,
        )

    def pdf_from_html(
        self,
        html: str,
        *,
        attachments: list[weasyprint.Attachment],
        photos: Mapping[str, bytes],
        identifier: str,
        types: list[str],
        publisher: str,
        keywords: list[str],
        limits: Limits | None = None,
        slot: SignatureSlot | None = None,
    ) -> RenderedDocument:
        """Any of our HTML → PDF/A-3u: fonts, stylesheet, XMP identifiers, font check.

        ``attachments`` are associated files (the first one normally ``/Source``);
        ``photos`` are the images the HTML may reference as ``photo:<key>``.  With
        ``limits``, the page count and the layout time are checked after layout, before
        any PDF is written.
        """
        fetcher = AssetFetcher(self._fonts, photos)
        try:
            with render_lock.rendering():
                started = time.monotonic()
                document = weasyprint.HTML(string=html, url_fetcher=fetcher).render(
                    stylesheets=[self.stylesheet],
                    font_config=self.font_config,
                    pdf_variant=PDF_VARIANT,
                )
                if limits is not None:
                    _check_budget(len(document.pages), time.monotonic() - started, limits)
                document.metadata = _Metadata(
                    identifier, types, publisher, **vars(document.metadata)
                )
                document.metadata.keywords = keywords
                pdf = document.write_pdf(
                    pdf_variant=PDF_VARIANT,
                    attachments=attachments,
                    finisher=functools.partial(_finish_pdf, slot=slot),
                )
        except FatalURLFetchingError as exc:
            raise RenderError(f"rendering failed: {exc}") from None
        foreign = {font.family for font in document.fonts.values()} - {FONT_FAMILY}
        if foreign:
            # A glyph fell back to a system font: output would depend on the machine.
            raise RenderError(
                f"text fell back to system font(s) {sorted(foreign)}; "
                f"every glyph must come from {FONT_FAMILY}"
            )
        return RenderedDocument(pdf, len(document.pages), signature_area(document))


def _check_budget(pages: int, seconds: float, limits: Limits) -> None:
    """Refuse a laid-out document beyond the page or time budget (nothing is written)."""
    if pages > limits.max_pages:
        raise LimitExceeded(
            f"the document would have {pages} pages; the limit is {limits.max_pages}",
            (
                Violation(
                    None, "/", f"at most {limits.max_pages} pages per document; split the document"
                ),
            ),
        )
    if seconds > limits.max_render_seconds:
        raise LimitExceeded(
            f"laying out the document took {seconds:.0f} s; the limit is "
            f"{limits.max_render_seconds:g} s",
            (Violation(None, "/", "the document is too large to render; split it"),),
        )


def _finish_pdf(document: Any, pdf: Any, slot: SignatureSlot | None = None) -> None:
    """Mend two details of WeasyPrint's PDF/A-3 attachments, and place ``slot`` (if any)
    over the reserved signature area.

    WeasyPrint lists each associated file twice in the catalog's ``/AF`` and labels XML
    ``text/xml``; the source XML is announced as ``application/xml``.  A document without
    the reserved area gets no slot (it is then signed the usual way).  Last, the PDF is
    made to serialise each object once when written (:mod:`.serialise_once`).
    """
    associated = pdf.catalog.get("AF")
    if associated:
        unique = list(dict.fromkeys(associated))
        associated.clear()
        associated.extend(unique)
    for obj in pdf.objects:
        extra = getattr(obj, "extra", None)
        if extra and extra.get("Type") == "/EmbeddedFile" and extra.get("Subtype") == "/text#2fxml":
            extra["Subtype"] = "/application#2fxml"
    if slot is not None and (area := signature_area(document)) is not None:
        slot.place(pdf, area.page_index, (area.x1, area.y1, area.x2, area.y2))
    pdf.__class__ = SerialiseOnce  # finished: each object is serialised once from here


def signature_area(document: Any) -> SignatureArea | None:
    """The reserved signature box (its last occurrence), in PDF points; ``None`` without one."""
    px_to_pt = 0.75
    for index in range(len(document.pages) - 1, -1, -1):
        page = document.pages[index]
        box = page.anchors.get(layout.SIGNATURE_AREA_ID)
        if box is not None:
            x1, y1, x2, y2 = box
            height = page.height * px_to_pt
            return SignatureArea(
                index, x1 * px_to_pt, height - y2 * px_to_pt, x2 * px_to_pt, height - y1 * px_to_pt
            )
    return None


@functools.cache
def default_renderer() -> Renderer:
    """The process-wide renderer (fonts, stylesheet and templates loaded once)."""
    return Renderer()
