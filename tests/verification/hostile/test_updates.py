"""Incremental Saving Attacks: updates appended to a genuine signed document that change
what is shown (page text, new widgets, shadow objects) or what is read (XMP, /Info,
source.xml), and a broken second signature appended to hide a failed first one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.verification.conftest import Env, Signed, flip_byte_in_signed_range
from tests.verification.hostile.conftest import (
    add_annotation,
    check,
    demo_signer,
    form_xobject,
    page_of,
    pdfsig_clean,
    sign,
    text_stream,
    update,
    verify_api,
)
from tests.verification.hostile.test_wrapping import FORGED, forge_first_page

N = generic.NameObject


def _failed_with(report: dict[str, Any], *phrases: str) -> dict[str, Any]:
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    sig = report["signatures"][0]
    modifications = check(sig["checks"], "modifications")
    assert modifications["status"] == "FAILED"
    for phrase in phrases:
        assert phrase.lower() in modifications["message"].lower(), modifications["message"]
    return sig


def _replace_xmp(writer: IncrementalPdfFileWriter, old: str, new: str) -> None:
    meta = writer.root["/Metadata"]
    data = meta.data.replace(old.encode(), new.encode())
    assert data != meta.data
    stream = generic.StreamObject(
        {N("/Type"): N("/Metadata"), N("/Subtype"): N("/XML")}, stream_data=data
    )
    writer.root[N("/Metadata")] = writer.add_object(stream)
    writer.update_root()


def test_isa_page_text_xmp_and_source_xml_replaced(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        forge_first_page(w)
        _replace_xmp(w, signed.registration_number, FORGED)
        for key in ("/AF", "/Names"):
            del w.root[N(key)]
        w.update_root()

    forged = update(signed.pdf, attack)
    report = verify_api(sqlite_env, forged)
    sig = _failed_with(report, "метаданные", "вложенные файлы")
    # facts come from the signed revision, never from the update
    assert report["registration_number"] == signed.registration_number
    assert report["source_xml"]["present"] is True
    assert any("Изменено содержимое страниц № 1" in c for c in sig["changes"])
    assert not pdfsig_clean(forged, tmp_path)


def test_xmp_and_info_changed_in_update_never_become_the_facts(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        _replace_xmp(w, signed.registration_number, FORGED)
        info = generic.DictionaryObject({N("/Title"): generic.TextStringObject(FORGED)})
        w.set_info(info)

    forged = update(signed.pdf, attack)
    report = verify_api(sqlite_env, forged)
    _failed_with(report, "изменены метаданные после подписания")
    assert report["registration_number"] == signed.registration_number != FORGED
    assert not pdfsig_clean(forged, tmp_path)


def _paint_widget(value: generic.DictionaryObject | None) -> Any:
    def attack(w: IncrementalPdfFileWriter) -> None:
        page = page_of(w)
        widget = generic.DictionaryObject(
            {
                N("/Type"): N("/Annot"),
                N("/Subtype"): N("/Widget"),
                N("/FT"): N("/Sig"),
                N("/T"): generic.TextStringObject("Подпись2"),
                N("/F"): generic.NumberObject(4),
                N("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (30, 740, 590, 790)]
                ),
                N("/P"): w.find_page_for_modification(0)[0],
                N("/AP"): generic.DictionaryObject({N("/N"): w.add_object(form_xobject(FORGED))}),
            }
        )
        if value is not None:
            widget[N("/V")] = w.add_object(value)
        ref = add_annotation(w, page, widget)
        form = w.root["/AcroForm"]
        form["/Fields"].append(ref)
        w.update_container(form)

    return attack


def test_new_empty_signature_field_painted_over_signed_text(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    forged = update(signed.pdf, _paint_widget(None))
    report = verify_api(sqlite_env, forged)
    sig = _failed_with(report, "добавлен элемент (поле подписи), который может быть виден")
    assert report["signature_count"] == 1
    assert "Пустых (не подписанных) полей подписи: 1" in [c["message"] for c in report["checks"]]
    assert sig["coverage"] == "ENTIRE_REVISION"
    assert not pdfsig_clean(forged, tmp_path)


def test_unsupported_subfilter_signature_painted_over_text_is_counted(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    value = generic.DictionaryObject(
        {
            N("/Type"): N("/Sig"),
            N("/Filter"): N("/Adobe.PPKLite"),
            N("/SubFilter"): N("/adbe.x509.rsa_sha1"),
            N("/Contents"): generic.ByteStringObject(b"\x00" * 16),
            N("/ByteRange"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 1, 2, 3)]),
        }
    )
    forged = update(signed.pdf, _paint_widget(value))
    report = verify_api(sqlite_env, forged)
    assert report["signature_count"] == 2
    first, second = report["signatures"]
    assert (first["indication"], first["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "который может быть виден" in check(first["checks"], "modifications")["message"]
    assert (second["indication"], second["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "неподдерживаемым форматом" in check(second["checks"], "format")["message"]
    assert report["indication"] == "TOTAL_FAILED"
    assert not pdfsig_clean(forged, tmp_path)


def test_source_xml_removed_in_update_never_improves_the_verdict(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        for key in ("/AF", "/Names"):
            del w.root[N(key)]
        w.update_root()

    forged = update(signed.pdf, attack)
    report = verify_api(sqlite_env, forged)
    _failed_with(report, "вложенные файлы")
    assert report["source_xml"]["present"] is True  # read from the signed revision
    assert not pdfsig_clean(forged, tmp_path)


def _without_source_xml(pdf: bytes, registration_number: str | None) -> bytes:
    def strip(w: IncrementalPdfFileWriter) -> None:
        for key in ("/AF", "/Names"):
            del w.root[N(key)]
        if registration_number is None:
            del w.root[N("/Metadata")]
        else:
            _replace_xmp(w, "KZ-MVD-2026-999001", registration_number)
        w.update_root()

    return update(pdf, strip)


@pytest.mark.parametrize(
    ("registration_number", "reason"),
    [("BY-MVD-2026-000007", "wrong-authority"), (None, "no-source-xml")],
)
def test_signed_without_source_xml_takes_authority_from_signed_xmp_or_is_indeterminate(
    sqlite_env: Env, rendered: bytes, registration_number: str | None, reason: str
) -> None:
    """A KZ-MVD signatory signs a document the signed XMP says is BY-MVD's: without the
    XML the authority comes from the signed metadata, never a WARNING that passes."""
    pdf = sign(
        _without_source_xml(rendered, registration_number),
        demo_signer(sqlite_env.instance),
    )
    report = verify_api(sqlite_env, pdf)
    assert report["source_xml"]["present"] is False
    [sig] = report["signatures"]
    registry = check(sig["checks"], "registered_signatory")
    assert (registry["status"], registry["detail"]) == ("FAILED", reason)
    assert (report["indication"], report["sub_indication"]) == (
        "INDETERMINATE",
        "SIG_CONSTRAINTS_FAILURE",
    )


def test_broken_second_signature_does_not_hide_a_hash_failure(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    value = generic.DictionaryObject(
        {
            N("/Type"): N("/Sig"),
            N("/Filter"): N("/Adobe.PPKLite"),
            N("/SubFilter"): N("/ETSI.CAdES.detached"),
            N("/Contents"): generic.ByteStringObject(b"\x30\x03\x02\x01\x00"),
            N("/ByteRange"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 1, 2, 3)]),
        }
    )
    tampered = flip_byte_in_signed_range(signed.pdf)
    forged = update(tampered, _paint_widget(value))
    report = verify_api(sqlite_env, forged)
    assert report["file_kind"] == "pdf" and report["signature_count"] == 2
    first, second = report["signatures"]
    assert (first["indication"], first["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert (second["indication"], second["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert not pdfsig_clean(forged, tmp_path)


# --------------------------------------------------------------------------- shadow attacks


@pytest.fixture
def shadow_prepared(sqlite_env: Env, rendered: bytes) -> tuple[bytes, dict[str, int]]:
    """A document signed by the registered signatory whose signed revision already holds
    the shadow objects: an unused content stream, an overlay form XObject drawn on page 1,
    and a hidden optional-content layer with other text (Mainka et al., NDSS 2021)."""
    refs: dict[str, int] = {}

    def prepare(w: IncrementalPdfFileWriter) -> None:
        page = page_of(w)
        unused = w.add_object(text_stream(FORGED))
        overlay = w.add_object(form_xobject("ORIGINAL"))
        ocg = w.add_object(
            generic.DictionaryObject(
                {N("/Type"): N("/OCG"), N("/Name"): generic.TextStringObject("layer")}
            )
        )
        ocprops = w.add_object(
            generic.DictionaryObject(
                {
                    N("/OCGs"): generic.ArrayObject([ocg]),
                    N("/D"): generic.DictionaryObject(
                        {
                            N("/OFF"): generic.ArrayObject([ocg]),
                            N("/Order"): generic.ArrayObject([ocg]),
                        }
                    ),
                }
            )
        )
        layer = w.add_object(
            generic.StreamObject(stream_data=b"/OC /oc1 BDC q 1 0 0 1 20 680 cm /Xs Do Q EMC")
        )
        resources = page["/Resources"]
        resources = resources.get_object() if hasattr(resources, "get_object") else resources
        resources[N("/XObject")] = generic.DictionaryObject({N("/Xs"): overlay})
        resources[N("/Properties")] = generic.DictionaryObject({N("/oc1"): ocg})
        contents = page.raw_get("/Contents")
        items = (
            list(contents.get_object()) if isinstance(contents.get_object(), list) else [contents]
        )
        page[N("/Contents")] = generic.ArrayObject([*items, layer])
        w.update_container(page)
        if isinstance(page.raw_get("/Resources"), generic.IndirectObject):
            w.update_container(resources)
        w.root[N("/OCProperties")] = ocprops
        w.update_root()
        refs.update(unused=unused.idnum, overlay=overlay.idnum, ocprops=ocprops.idnum)

    prepared = update(rendered, prepare)
    pdf = sign(prepared, demo_signer(sqlite_env.instance))
    report = verify_api(sqlite_env, pdf)
    assert report["indication"] == "TOTAL_PASSED", report["summary"]
    return pdf, refs


def _shadow(pdf: bytes, refs: dict[str, int], *, hide: bool, replace: bool) -> bytes:
    def activate(w: IncrementalPdfFileWriter) -> None:
        if replace:  # the page now shows the prepared, unused content stream
            page = page_of(w)
            page[N("/Contents")] = generic.IndirectObject(refs["unused"], 0, w)
            w.update_container(page)
        if hide:  # the prepared layer becomes visible (only the OCG state changes)
            ocprops = generic.IndirectObject(refs["ocprops"], 0, w).get_object()
            ocprops["/D"][N("/OFF")] = generic.ArrayObject()
            w.update_container(ocprops)

    return update(pdf, activate)


@pytest.mark.parametrize(
    ("hide", "replace"),
    [(True, False), (False, True), (True, True)],
    ids=["hide", "replace", "hide-and-replace"],
)
def test_shadow_attacks_are_total_failed(
    sqlite_env: Env,
    shadow_prepared: tuple[bytes, dict[str, int]],
    tmp_path: Path,
    hide: bool,
    replace: bool,
) -> None:
    pdf, refs = shadow_prepared
    forged = _shadow(pdf, refs, hide=hide, replace=replace)
    report = verify_api(sqlite_env, forged)
    _failed_with(report)
    assert report["valid"] is False
    assert not pdfsig_clean(forged, tmp_path)


def test_shadow_overlay_xobject_replaced_is_total_failed(
    sqlite_env: Env, shadow_prepared: tuple[bytes, dict[str, int]], tmp_path: Path
) -> None:
    pdf, refs = shadow_prepared

    def swap(w: IncrementalPdfFileWriter) -> None:
        xobj = form_xobject(FORGED)
        w.objects[(0, refs["overlay"])] = xobj  # same object number, new content
        w.mark_update(generic.Reference(refs["overlay"], 0))

    forged = update(pdf, swap)
    report = verify_api(sqlite_env, forged)
    _failed_with(report, "изменены объекты подписанной версии")
    assert not pdfsig_clean(forged, tmp_path)


def test_control_validation_data_added_by_the_service_writer_still_passes(
    sqlite_env: Env, signed: Signed
) -> None:
    """Control: an unsigned update that only adds DSS validation data — written the way
    the service writes it (Info /ModDate and XMP refreshed) — is not an attack."""
    import io

    from asn1crypto import cms

    from signing.pades import PdfAIncrementalWriter

    start = signed.pdf.index(b"/Contents <") + len(b"/Contents <")
    end = signed.pdf.index(b">", start)
    content = cms.ContentInfo.load(bytes.fromhex(signed.pdf[start:end].decode()))
    cert = content["content"]["certificates"][0].chosen.dump()
    writer = PdfAIncrementalWriter(io.BytesIO(signed.pdf))
    certs = generic.ArrayObject([writer.add_object(generic.StreamObject(stream_data=cert))])
    writer.root[N("/DSS")] = writer.add_object(generic.DictionaryObject({N("/Certs"): certs}))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    report = verify_api(sqlite_env, out.getvalue())
    assert report["indication"] == "TOTAL_PASSED", report["summary"]
    [sig] = report["signatures"]
    assert sig["modification_level"] == "LTA_UPDATES"
    assert check(sig["checks"], "modifications")["status"] == "PASSED"
