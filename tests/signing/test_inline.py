"""The signature the renderer writes itself and signing fills in place (:mod:`signing.inline`):
one revision, the same checks as every signed document, tampering detected."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from certomancer.registry import PKIArchitecture

from service.pipeline.rendering import signature_area
from signing import pades
from signing.api import DocumentSigner, SigningConfig, SignRequest
from signing.errors import InvalidDocument
from signing.inline import SignatureSlot, SlotTooSmall
from signing.layout import find_signature_area
from signing.pades import LtvConfig
from signing.verify_basic import verify_pdf

from . import pdfcheck
from .conftest import cert_der, render_pdfa

REG_NO = "KZ-MVD/2026/000007"
AT = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def sign_request(sid: str = "kz-mvd-rsa3072") -> SignRequest:
    authority = "KZ-MVD" if "mvd" in sid else "KZ-MTSZN"
    return SignRequest(
        pdf=b"",
        signatory_id=sid,
        authority=authority,
        document_type="request",
        registration_number=REG_NO,
        signing_time=AT,
        block_prerendered=True,
    )


def with_slot(slot: SignatureSlot) -> bytes:
    """The test document rendered with ``slot`` over its reserved area."""

    def finish(document: Any, pdf: Any) -> None:
        area = signature_area(document)
        assert area is not None
        slot.place(pdf, area.page_index, (area.x1, area.y1, area.x2, area.y2))

    return render_pdfa(finisher=finish)


def sign_inline(signer: DocumentSigner, req: SignRequest) -> Any:
    prepared = signer.prepare(req, AT)
    slot = signer.slot(req, prepared)
    pdf = with_slot(slot)
    assert pdf.count(b"%%EOF") == 1
    return signer.sign(SignRequest(**{**vars(req), "pdf": pdf, "slot": slot}), prepared)


@pytest.fixture(params=["kz-mvd-rsa3072", "kz-mtszn-p256"])
def signed(request: pytest.FixtureRequest, make_signer: Callable[..., Any]) -> Any:
    return sign_inline(make_signer(), sign_request(request.param))


def test_one_revision_signed_whole_and_trusted(
    signed: Any, pki: PKIArchitecture, make_signer: Callable[..., Any]
) -> None:
    pdf = signed.pdf
    assert pdf.count(b"%%EOF") == 1, "no incremental update: the renderer wrote the field"
    assert pdfcheck.reader(pdf).xrefs.total_revisions == 1
    a, b, c, d = pdfcheck.byte_range(pdf)
    assert (a, c + d) == (0, len(pdf))
    gap = pdf[b:c]
    assert gap.startswith(b"<") and gap.endswith(b">")
    roots = [cert_der(pki, "kz-root")]
    [report] = verify_pdf(pdf, roots)
    assert report.intact and report.valid and report.trusted and report.covers_whole_file
    assert signed.level == "B-B" and signed.field_name == "migdocs-signature"
    sig = pdfcheck.reader(pdf).embedded_signatures[-1]
    assert str(sig.sig_object["/SubFilter"]) == "/ETSI.CAdES.detached"
    assert str(sig.sig_object["/Reason"]).startswith("Подписание")
    registered = make_signer().authorise(sign_request(signed.signatory_id), AT)
    assert str(sig.sig_object["/Name"]) == registered.full_name_ru
    assert sig.self_reported_timestamp == AT


def test_pdfa_properties_and_widget_over_the_reserved_area(signed: Any) -> None:
    pdf = signed.pdf
    assert pdfcheck.xmp_pdfaid(pdf) == ("3", "U")
    assert pdfcheck.xmp_producer(pdf) == pdfcheck.info_producer(pdf)
    assert pades.catalog_version(pdf) in (None, "1.7") and pdf.startswith(b"%PDF-1.7")
    root = pdfcheck.reader(pdf).root
    assert int(root["/AcroForm"]["/SigFlags"]) == 3
    assert int(root["/Extensions"]["/ESIC"]["/ExtensionLevel"]) == 1
    widget = pdfcheck.signature_widget(pdf)
    assert int(widget["/F"]) == 132  # print, locked; not hidden
    assert "/N" in widget["/AP"]
    area = find_signature_area(pdfcheck.reader(pdf))
    assert area.found
    assert [float(v) for v in widget["/Rect"]] == pytest.approx(list(area.rect), abs=0.01)


needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler pdfsig missing")


@needs_pdfsig
def test_pdfsig_and_pyhanko_cli_agree(signed: Any, tmp_path: Path, kz_root_pem: Path) -> None:
    path = tmp_path / "inline.pdf"
    path.write_bytes(signed.pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out and "Total document signed" in out
    exe = shutil.which("pyhanko") or str(Path(__file__).parents[2] / ".venv/bin/pyhanko")
    cli = subprocess.run(
        [exe, "sign", "validate", "--trust-replace", "--trust", str(kz_root_pem), str(path)],
        capture_output=True,
        text=True,
    )
    assert ":INTACT:TRUSTED" in cli.stdout, cli.stdout + cli.stderr


@pytest.mark.parametrize("where", ["content", "byte_range_numbers", "after_contents", "reason"])
def test_a_changed_byte_anywhere_signed_is_detected(
    make_signer: Callable[..., Any], pki: PKIArchitecture, where: str
) -> None:
    pdf = bytearray(sign_inline(make_signer(), sign_request()).pdf)
    _a, b, c, _d = pdfcheck.byte_range(bytes(pdf))
    if where == "content":
        pos = pdf.index(b"stream", 2000) + 40
    elif where == "byte_range_numbers":
        pos = pdf.index(b"/ByteRange [0 ") + len(b"/ByteRange [0 ") + 20  # the padding
    elif where == "reason":
        pos = pdf.index(b"/Reason <") + 20  # a hex digit of the signature's /Reason
    else:
        pos = c + 10
    assert pos < b or pos >= c
    # the padding of /ByteRange becomes another white-space byte: still parseable
    pdf[pos] = ord("\n") if where == "byte_range_numbers" else pdf[pos] ^ 0x01
    [report] = verify_pdf(bytes(pdf), [cert_der(pki, "kz-root")])
    assert not report.ok


def test_b_t_and_b_lt_add_their_revisions_after(
    make_signer: Callable[..., Any], tsa_url: str, pki: PKIArchitecture
) -> None:
    timestamped = sign_inline(make_signer(config=SigningConfig(tsa_url=tsa_url)), sign_request())
    assert timestamped.level == "B-T"
    assert timestamped.pdf.count(b"%%EOF") == 1
    [report] = verify_pdf(timestamped.pdf, [cert_der(pki, "kz-root")])
    assert report.ok and report.timestamp_valid is True
    ltv = LtvConfig(trust_roots=(cert_der(pki, "kz-root"),), required=True)
    long_term = sign_inline(
        make_signer(config=SigningConfig(tsa_url=tsa_url, ltv=ltv)), sign_request()
    )
    assert long_term.level == "B-LT"
    assert long_term.pdf.count(b"%%EOF") == 2  # the DSS update
    assert pdfcheck.xmp_pdfaid(long_term.pdf) == ("3", "U")
    [report] = verify_pdf(long_term.pdf, [cert_der(pki, "kz-root")])
    assert report.intact and report.valid and report.trusted
    assert report.modification_level == "LTA_UPDATES"


def test_a_slot_too_small_is_refused_and_the_input_left_alone(
    make_signer: Callable[..., Any],
) -> None:
    signer = make_signer()
    req = sign_request()
    prepared = signer.prepare(req, AT)
    slot = SignatureSlot(
        field_name="migdocs-signature",
        signer_name="x",
        reason="y",
        location=None,
        signing_time=AT,
        hex_digits=256,
    )
    pdf = with_slot(slot)
    with pytest.raises(SlotTooSmall, match="were reserved"):
        signer.sign(SignRequest(**{**vars(req), "pdf": pdf, "slot": slot}), prepared)
    assert pdf.count(b"0" * 256) >= 1  # still the blank placeholder


def test_a_slot_made_for_another_time_is_refused(make_signer: Callable[..., Any]) -> None:
    signer = make_signer()
    req = sign_request()
    prepared = signer.prepare(req, AT)
    slot = signer.slot(req, prepared)
    pdf = with_slot(slot)
    later = datetime(2026, 6, 1, 9, 31, tzinfo=UTC)
    with pytest.raises(InvalidDocument, match="another signing time"):
        signer.sign(
            SignRequest(**{**vars(req), "pdf": pdf, "slot": slot, "signing_time": later}),
            signer.prepare(req, later),
        )
