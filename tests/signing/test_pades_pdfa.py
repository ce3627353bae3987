"""PDF/A-3 properties survive signing (DESIGN §5, issue 3 item 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto import x509
from certomancer.registry import PKIArchitecture

from signing import pades
from signing.api import SignRequest
from signing.layout import (
    MM,
    SIGNATURE_AREA_HEIGHT_MM,
    SIGNATURE_AREA_WIDTH_MM,
    find_signature_area,
)

from . import pdfcheck

REG_NO = "KZ-MVD/2026/000001"


@pytest.fixture(params=["kz-mvd-rsa3072", "kz-mtszn-p256"])
def signed(
    request: pytest.FixtureRequest, make_signer: Callable[..., Any], input_pdf: bytes
) -> Any:
    sid = request.param
    authority = "KZ-MVD" if "mvd" in sid else "KZ-MTSZN"
    return make_signer().sign(
        SignRequest(
            pdf=input_pdf,
            signatory_id=sid,
            authority=authority,
            document_type="request",
            registration_number=REG_NO,
        )
    )


def test_pdfaid_unchanged(signed: Any, input_pdf: bytes) -> None:
    assert pdfcheck.xmp_pdfaid(input_pdf) == ("3", "U")
    assert pdfcheck.xmp_pdfaid(signed.pdf) == ("3", "U")


def test_producer_info_equals_xmp(signed: Any) -> None:
    info = pdfcheck.info_producer(signed.pdf)
    assert info.startswith("WeasyPrint 70.0")
    assert "pyHanko" in info
    assert pdfcheck.xmp_producer(signed.pdf) == info


def test_catalog_version_stays_pdf17(signed: Any) -> None:
    # pyHanko would set /Version 2.0 (ISO 32002) for the P-256 key
    assert pades.catalog_version(signed.pdf) in (None, "1.7")
    root = pdfcheck.reader(signed.pdf).root
    assert "/ISO_" not in root.get("/Extensions", {})
    assert signed.pdf.startswith(b"%PDF-1.7")


def test_widget_printable_with_normal_appearance(signed: Any) -> None:
    widget = pdfcheck.signature_widget(signed.pdf)
    assert int(widget["/F"]) & 4, "Print flag"
    assert not int(widget["/F"]) & 2, "not Hidden"
    assert "/N" in widget["/AP"]
    rect = [float(v) for v in widget["/Rect"]]
    assert rect[2] - rect[0] == pytest.approx(SIGNATURE_AREA_WIDTH_MM * MM, abs=0.5)
    assert rect[3] - rect[1] == pytest.approx(SIGNATURE_AREA_HEIGHT_MM * MM, abs=0.5)


def test_widget_drawn_in_reserved_area(signed: Any, input_pdf: bytes) -> None:
    area = find_signature_area(pdfcheck.reader(input_pdf))
    assert area.found
    widget = pdfcheck.signature_widget(signed.pdf)
    rect = [float(v) for v in widget["/Rect"]]
    assert rect == pytest.approx(list(area.rect), abs=0.5)


def test_appearance_fonts_embedded_no_transparency(signed: Any) -> None:
    widget = pdfcheck.signature_widget(signed.pdf)
    ap = widget["/AP"].raw_get("/N")
    fonts = pdfcheck.fonts_in(ap)
    assert fonts, "the block has text"
    assert all(pdfcheck.font_is_embedded(f) for f in fonts)
    assert all("PTSans" in str(f["/BaseFont"]) for f in fonts)
    assert not pdfcheck.uses_transparency(ap)


def test_byterange_covers_whole_file_but_contents(signed: Any) -> None:
    pdf = signed.pdf
    a, b, c, d = pdfcheck.byte_range(pdf)
    assert a == 0
    assert c + d == len(pdf)
    gap = pdf[b:c]
    assert gap.startswith(b"<") and gap.endswith(b">")
    assert all(ch in b"0123456789abcdefABCDEF" for ch in gap[1:-1])


def test_exactly_one_signer_info_with_signing_cert(signed: Any, pki: PKIArchitecture) -> None:
    sd = pdfcheck.signed_data(signed.pdf)
    assert len(sd["signer_infos"]) == 1
    sid = sd["signer_infos"][0]["sid"].chosen
    certs = [c.chosen for c in sd["certificates"]]
    match = [
        c
        for c in certs
        if isinstance(c, x509.Certificate)
        and c.serial_number == sid["serial_number"].native
        and c.issuer == sid["issuer"]
    ]
    assert len(match) == 1


def test_pades_subfilter_and_metadata(signed: Any) -> None:
    sig = pdfcheck.reader(signed.pdf).embedded_signatures[-1]
    assert str(sig.sig_object["/SubFilter"]) == "/ETSI.CAdES.detached"
    assert str(sig.sig_object["/Reason"]).startswith("Подписание")
    assert "/Name" in sig.sig_object
    assert signed.level == "B-B"


def test_invisible_signature(make_signer: Callable[..., Any], input_pdf: bytes) -> None:
    result = make_signer().sign(
        SignRequest(
            pdf=input_pdf,
            signatory_id="kz-mvd-rsa2048",
            authority="KZ-MVD",
            document_type="request",
            visible=False,
        )
    )
    widget = pdfcheck.signature_widget(result.pdf)
    assert [float(v) for v in widget["/Rect"]] == [0, 0, 0, 0]
    assert pdfcheck.xmp_producer(result.pdf) == pdfcheck.info_producer(result.pdf)


def test_fallback_area_bottom_of_last_page(
    make_signer: Callable[..., Any], input_pdf_no_area: bytes
) -> None:
    area = find_signature_area(pdfcheck.reader(input_pdf_no_area))
    assert not area.found
    assert area.page_index == 1
    result = make_signer().sign(
        SignRequest(
            pdf=input_pdf_no_area,
            signatory_id="kz-mvd-rsa2048",
            authority="KZ-MVD",
            document_type="request",
            registration_number=REG_NO,
        )
    )
    sig = pdfcheck.reader(result.pdf).embedded_signatures[-1]
    page = sig.sig_field["/P"]
    pages = pdfcheck.reader(result.pdf).root["/Pages"]["/Kids"]
    assert page == pages[1]


def test_second_signature_gets_new_field(make_signer: Callable[..., Any], input_pdf: bytes) -> None:
    signer = make_signer()
    first = signer.sign(
        SignRequest(
            pdf=input_pdf, signatory_id="kz-mvd-rsa2048", document_type="request", visible=False
        )
    )
    second = signer.sign(
        SignRequest(
            pdf=first.pdf, signatory_id="kz-mvd-rsa3072", document_type="request", visible=False
        )
    )
    assert second.field_name == "migdocs-signature-2"
    assert len(pdfcheck.reader(second.pdf).embedded_signatures) == 2
