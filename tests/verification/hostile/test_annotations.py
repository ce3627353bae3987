"""Evil Annotation Attack (Mainka et al., "Shadow attacks" / "Breaking the Specification",
NDSS 2021 / IEEE S&P 2021): after signing, an update adds an ordinary annotation —
a comment box, a stamp, a shape, ink, a highlight — whose appearance paints another
registration number over the signed text.  pyHanko's default policy treats annotations
as allowed commenting; for an official document anything drawn on a page after the last
signature is a visible change: never TOTAL_PASSED, and the change is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.verification.conftest import Env, Signed
from tests.verification.hostile.conftest import (
    add_annotation,
    check,
    form_xobject,
    page_of,
    pdfsig_clean,
    update,
    verify_api,
)
from tests.verification.hostile.test_wrapping import FORGED

N = generic.NameObject


def _annotate(subtype: str, with_appearance: bool = True) -> object:
    def attack(w: IncrementalPdfFileWriter) -> None:
        page = page_of(w)
        annotation = generic.DictionaryObject(
            {
                N("/Type"): N("/Annot"),
                N("/Subtype"): N(subtype),
                N("/F"): generic.NumberObject(4),
                N("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (30, 740, 590, 790)]
                ),
                N("/Contents"): generic.TextStringObject(FORGED),
                N("/P"): w.find_page_for_modification(0)[0],
            }
        )
        if with_appearance:
            annotation[N("/AP")] = generic.DictionaryObject(
                {N("/N"): w.add_object(form_xobject(FORGED))}
            )
        add_annotation(w, page, annotation)

    return attack


@pytest.mark.parametrize("subtype", ["/FreeText", "/Stamp", "/Square", "/Ink", "/Highlight"])
def test_annotation_painted_over_signed_text_is_not_total_passed(
    sqlite_env: Env, signed: Signed, tmp_path: Path, subtype: str
) -> None:
    forged = update(signed.pdf, _annotate(subtype))  # type: ignore[arg-type]
    report = verify_api(sqlite_env, forged)
    assert report["indication"] != "TOTAL_PASSED", subtype
    assert report["valid"] is False
    modifications = check(report["signatures"][0]["checks"], "modifications")
    assert modifications["status"] != "PASSED", modifications
    assert report["registration_number"] == signed.registration_number != FORGED
    assert not pdfsig_clean(forged, tmp_path)


def test_annotation_without_appearance_is_still_reported(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    forged = update(signed.pdf, _annotate("/Text", with_appearance=False))  # type: ignore[arg-type]
    report = verify_api(sqlite_env, forged)
    assert report["indication"] != "TOTAL_PASSED"
    assert not pdfsig_clean(forged, tmp_path)
