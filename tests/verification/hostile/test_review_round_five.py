"""Fifth round of the adversarial review (December 2026).  Each attack was TOTAL_PASSED,
or held a worker far past the verification's hard deadline, before.

* A page listed twice in one unsigned cross-reference table: a forged copy first (with
  a header written ``7 0.0 obj``, which pdf.js reads and the header scan did not), the
  genuine one second.  pyHanko keeps the last entry and sees an identical rewrite;
  pdf.js and poppler keep the first and show the forgery.
* A new, zero-area signature field without an appearance — the shape of pyHanko's
  archive timestamp — carrying page-open JavaScript (``/AA``) or an action (``/A``).
* The tail scan for object headers was a regular expression: ``1 %%%%…`` sent it into
  exponential backtracking and a run of digits into quadratic — one C call, which the
  deadline cannot interrupt (60 ``%`` would run for years).
"""

from __future__ import annotations

import time
import zlib
from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.verification.conftest import Env, Signed
from tests.verification.hostile.conftest import add_annotation, page_of, update, verify_api
from tests.verification.hostile.test_viewer_differentials import (
    VISIBLE,
    _raw_update,
    _refused,
    _widget,
)
from tests.verification.hostile.test_wrapping import FORGED

N = generic.NameObject


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf), strict=False)


def _serialised(obj: Any) -> bytes:
    out = BytesIO()
    obj.write_to_stream(out, None)
    return out.getvalue()


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


# --------------------------------------------------------------------------- listed twice


def _page_listed_twice(signed: Signed, generation: bytes) -> bytes:
    """Page 1 twice in one xref table: first a copy showing a forged content stream,
    headed ``7 <generation> obj``; then the page exactly as signed."""
    reader = _reader(signed.pdf)
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0).reference
    page = reader.get_object(page_ref)
    contents = page.raw_get("/Contents")
    old = (contents[0] if isinstance(contents, generic.ArrayObject) else contents).idnum
    forged_content = int(reader.trailer["/Size"])
    genuine = _serialised(page)
    forged = genuine.replace(b"%d 0 R" % old, b"%d 0 R" % forged_content, 1)
    assert forged != genuine
    ops = b"BT /F1 28 Tf 60 700 Td (" + FORGED.encode() + b") Tj ET"
    out = bytearray(signed.pdf if signed.pdf.endswith(b"\n") else signed.pdf + b"\n")
    content_at = len(out)
    out += b"%d 0 obj\n" % forged_content + _stream(zlib.compress(ops)).replace(
        b"<< /Length", b"<< /Filter /FlateDecode /Length", 1
    )
    out += b"\nendobj\n"
    forged_at = len(out)
    out += b"%d %s obj\n" % (page_ref.idnum, generation) + forged + b"\nendobj\n"
    genuine_at = len(out)
    out += b"%d 0 obj\n" % page_ref.idnum + genuine + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n"
    out += b"%d 1\n%010d 00000 n\r\n" % (page_ref.idnum, forged_at)  # pdf.js, poppler
    out += b"%d 1\n%010d 00000 n\r\n" % (page_ref.idnum, genuine_at)  # pyHanko
    out += b"%d 1\n%010d 00000 n\r\n" % (forged_content, content_at)
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    root = reader.trailer_view.raw_get("/Root").reference.idnum
    info = reader.trailer_view.raw_get("/Info").reference.idnum
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\n" % (
        forged_content + 1,
        root,
        info,
        prev,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


@pytest.mark.parametrize("generation", [b"0", b"0.0", b"0.", b".0", b"00.0"])
def test_page_listed_twice_is_refused(sqlite_env: Env, signed: Signed, generation: bytes) -> None:
    forged = _page_listed_twice(signed, generation)
    _refused(verify_api(sqlite_env, forged), "один и тот же объект дважды")


@pytest.mark.parametrize("header", [b"%d 0.0 obj", b"%d 0. obj", b"%d .0 obj", b"%d 0 %%%%c\nobj"])
def test_unlisted_object_with_a_number_generation_is_refused(
    sqlite_env: Env, signed: Signed, header: bytes
) -> None:
    """pdf.js reads the generation as any number token: ``7 0.0 obj`` is a header."""
    reader = _reader(signed.pdf)
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0).reference
    page = _serialised(reader.get_object(page_ref)).replace(b"/Rotate 0", b"")
    hidden = header % page_ref.idnum + b"\n" + page + b"\nendobj\n"
    filler = int(reader.trailer["/Size"])
    forged = _raw_update(signed.pdf, {filler: b"null"}, after=hidden)
    _refused(verify_api(sqlite_env, forged), "не внесённых в таблицы ссылок")


# --------------------------------------------------------------------------- actions


_PAGE_OPEN_SCRIPT = generic.DictionaryObject(
    {
        N("/S"): N("/JavaScript"),
        N("/JS"): generic.TextStringObject("app.alert('Документ подлинный: " + FORGED + "')"),
    }
)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("/AA", generic.DictionaryObject({N("/PO"): _PAGE_OPEN_SCRIPT})),
        ("/A", _PAGE_OPEN_SCRIPT),
        (
            "/MK",
            generic.DictionaryObject({N("/BG"): generic.ArrayObject([generic.FloatObject(1)])}),
        ),
    ],
    ids=["page-open-javascript", "action", "appearance-characteristics"],
)
def test_invisible_signature_field_that_does_something_is_refused(
    sqlite_env: Env, signed: Signed, key: str, value: Any
) -> None:
    """Exactly the shape of pyHanko's archive-timestamp field (zero-area ``/Rect``, no
    ``/AP``) plus one more key: only what such a field needs is allowed."""

    def attack(w: IncrementalPdfFileWriter) -> None:
        widget = _widget(w, rect=(0, 0, 0, 0), appearance=None)
        widget[N(key)] = value
        ref = add_annotation(w, page_of(w), widget)
        form = w.root["/AcroForm"]
        form["/Fields"].append(ref)
        w.update_container(form)

    forged = update(signed.pdf, attack)
    _refused(verify_api(sqlite_env, forged), VISIBLE)


def test_new_parent_field_with_a_script_is_refused(sqlite_env: Env, signed: Signed) -> None:
    """A new parent node (its only kid an inert widget) with a field-level script."""

    def attack(w: IncrementalPdfFileWriter) -> None:
        widget = _widget(w, rect=(0, 0, 0, 0), appearance=None)
        del widget["/FT"]
        del widget["/T"]
        parent = generic.DictionaryObject(
            {
                N("/FT"): N("/Sig"),
                N("/T"): generic.TextStringObject("Подпись3"),
                N("/AA"): generic.DictionaryObject({N("/K"): _PAGE_OPEN_SCRIPT}),
            }
        )
        parent_ref = w.add_object(parent)
        widget[N("/Parent")] = parent_ref
        kid_ref = add_annotation(w, page_of(w), widget)
        parent[N("/Kids")] = generic.ArrayObject([kid_ref])
        w.update_container(parent)
        form = w.root["/AcroForm"]
        form["/Fields"].append(parent_ref)
        w.update_container(form)

    forged = update(signed.pdf, attack)
    _refused(verify_api(sqlite_env, forged), VISIBLE)


# --------------------------------------------------------------------------- backtracking


@pytest.mark.parametrize(
    "payload",
    [b"1 " + b"%" * 60 + b"\nx", b"7" * 1_000_000],
    ids=["percent-run", "digit-run"],
)
def test_tail_scan_is_linear(sqlite_env: Env, signed: Signed, payload: bytes) -> None:
    """An unreferenced stream in an update, harmless to view, whose bytes once made the
    header scan backtrack for years (a single ``re`` call: no deadline stops it)."""
    filler = int(_reader(signed.pdf).trailer["/Size"])
    tail = _raw_update(signed.pdf, {filler: _stream(payload)})
    started = time.monotonic()
    report = verify_api(sqlite_env, tail)
    assert time.monotonic() - started < 3.0
    assert report["indication"] == "TOTAL_PASSED", report
