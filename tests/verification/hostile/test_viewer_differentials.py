"""Updates that a viewer shows but a shape check would miss, found by an adversarial review
(December 2026): each of these was TOTAL_PASSED before.

* A new widget painted over signed text whose *shape* said "not an annotation" or "draws
  nothing": no ``/Subtype``, a ``/Rect`` of five numbers, an appearance only for rollover
  or for the pressed state.  pdf.js paints the first; viewers differ on the others.  The
  tail policy now judges what is new on a page by where it is (``/Annots``, the field
  tree): only a signature field that provably draws nothing may be added.
* XMP properties other than the identifier and type (``dc:title`` is the window title),
  and ``/Info /Producer`` — compared property by property now.
* A dictionary that gives a key twice: pyHanko reads the first value, pdf.js the last.
* An object-stream bomb whose dictionary dodges the byte scan before the parser (padded,
  or ``/Obj#53tm``): pyHanko's reader now runs under tight decode limits.
"""

from __future__ import annotations

import logging
import random
import re
import resource
import struct
import time
import zlib
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

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
from tests.verification.hostile.test_updates import _replace_xmp
from tests.verification.hostile.test_wrapping import FORGED

N = generic.NameObject
VISIBLE = "который может быть виден"
METADATA = "изменены метаданные после подписания"
AMBIGUOUS = "повторяющимися ключами"


def _modifications(report: dict[str, Any]) -> str:
    message: str = check(report["signatures"][0]["checks"], "modifications")["message"]
    return message


def _refused(report: dict[str, Any], phrase: str) -> None:
    assert report["indication"] != "TOTAL_PASSED"
    assert report["valid"] is False
    assert phrase.lower() in _modifications(report).lower(), _modifications(report)


# --------------------------------------------------------------------------- widgets


def _widget(
    w: IncrementalPdfFileWriter,
    *,
    subtype: str | None = "/Widget",
    rect: tuple[float, ...] = (30, 740, 590, 790),
    appearance: str | None = "/N",
    field: bool = True,
) -> generic.DictionaryObject:
    widget = generic.DictionaryObject(
        {
            N("/Type"): N("/Annot"),
            N("/FT"): N("/Sig"),
            N("/T"): generic.TextStringObject("Подпись2"),
            N("/F"): generic.NumberObject(4),
            N("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in rect]),
            N("/P"): w.find_page_for_modification(0)[0],
        }
    )
    if subtype is not None:
        widget[N("/Subtype")] = N(subtype)
    if appearance is not None:
        widget[N("/AP")] = generic.DictionaryObject(
            {N(appearance): w.add_object(form_xobject(FORGED))}
        )
    return widget


def _add_widget(**shape: Any) -> Callable[[IncrementalPdfFileWriter], None]:
    def attack(w: IncrementalPdfFileWriter) -> None:
        ref = add_annotation(w, page_of(w), _widget(w, **shape))
        form = w.root["/AcroForm"]
        form["/Fields"].append(ref)
        w.update_container(form)

    return attack


@pytest.mark.parametrize(
    "shape",
    [
        {"subtype": None},
        {"rect": (30, 740, 590, 790, 0)},
        {"appearance": "/R"},
        {"appearance": "/D"},
        {"rect": (30, 740, 590, 790), "appearance": "/N", "subtype": "/Square"},
        {"rect": (30, 740, 590, 740), "appearance": "/N"},  # zero height, but an appearance
    ],
    ids=["no-subtype", "rect-of-five", "rollover-only", "down-only", "square", "flat-with-ap"],
)
def test_new_widget_of_any_shape_is_a_visible_change(
    sqlite_env: Env, signed: Signed, tmp_path: Path, shape: dict[str, Any]
) -> None:
    forged = update(signed.pdf, _add_widget(**shape))
    report = verify_api(sqlite_env, forged)
    _refused(report, VISIBLE)
    assert report["registration_number"] == signed.registration_number
    assert not pdfsig_clean(forged, tmp_path)


def test_widget_only_in_the_field_tree_is_a_visible_change(sqlite_env: Env, signed: Signed) -> None:
    """A widget that is a new form field but in no page's ``/Annots`` (some viewers draw
    the form's widgets from the field tree and ``/P``)."""

    def attack(w: IncrementalPdfFileWriter) -> None:
        form = w.root["/AcroForm"]
        form["/Fields"].append(w.add_object(_widget(w, subtype=None)))
        w.update_container(form)

    _refused(verify_api(sqlite_env, update(signed.pdf, attack)), VISIBLE)


def test_control_invisible_signature_field_is_not_called_visible(
    sqlite_env: Env, signed: Signed
) -> None:
    """Control: an empty signature field as pyHanko writes an archive timestamp's —
    ``/Rect [0 0 0 0]``, no ``/AP`` — draws nothing and is not named as visible (the
    empty field itself is reported as a warning)."""
    report = verify_api(
        sqlite_env, update(signed.pdf, _add_widget(rect=(0, 0, 0, 0), appearance=None))
    )
    assert VISIBLE not in _modifications(report)
    assert "Пустых (не подписанных) полей подписи: 1" in [c["message"] for c in report["checks"]]


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Запрос № ", "Отказ № "),  # dc:title, the viewer's window title
        (
            "<dc:creator><rdf:Seq><rdf:li>Министерство внутренних дел Республики Казахстан",
            "<dc:creator><rdf:Seq><rdf:li>Министерство внутренних дел Республики Беларусь",
        ),
        ("request, KZ-MVD, BY-MVD", "request, BY-MVD, KZ-MVD"),  # pdf:Keywords
        ('pdf:Producer="WeasyPrint', 'pdf:Producer="Forged; WeasyPrint'),
    ],
    ids=["dc-title", "dc-creator", "pdf-keywords", "pdf-producer"],
)
def test_any_xmp_property_changed_after_signing_is_refused(
    sqlite_env: Env, signed: Signed, old: str, new: str
) -> None:
    report = verify_api(sqlite_env, update(signed.pdf, lambda w: _replace_xmp(w, old, new)))
    _refused(report, METADATA)


def test_info_producer_changed_after_signing_is_refused(sqlite_env: Env, signed: Signed) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        info = generic.DictionaryObject(dict(w.trailer["/Info"].items()))
        info[N("/Producer")] = generic.TextStringObject(FORGED)
        w.set_info(info)

    _refused(verify_api(sqlite_env, update(signed.pdf, attack)), METADATA)


# --------------------------------------------------------------------------- duplicate keys


def _raw_update(
    pdf: bytes,
    objects: dict[int, bytes],
    *,
    root: int | None = None,
    unlisted: bytes = b"",
    startxref_delta: int = 0,
    prev: int | None = None,
    after: bytes = b"",
    header_word: bytes = b"obj",
) -> bytes:
    """An update written byte by byte (a classic xref section), as an attacker does:
    ``unlisted`` bytes before the listed objects and ``after`` them, a ``startxref`` off
    by ``startxref_delta``, a ``/Prev`` of choice, headers ending in ``header_word``."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    out += unlisted
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 %s\n" % (number, header_word) + body + b"\nendobj\n"
    out += after
    at = len(out)
    out += b"xref\n"
    for number in sorted(offsets):
        out += b"%d 1\n%010d 00000 n\r\n" % (number, offsets[number])
    size = max([int(reader.trailer["/Size"])] + [n + 1 for n in offsets])
    root = root or reader.trailer_view.raw_get("/Root").reference.idnum
    info = reader.trailer_view.raw_get("/Info").reference.idnum
    if prev is None:
        prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\n" % (
        size,
        root,
        info,
        prev,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % (at + startxref_delta)
    return bytes(out)


def _info_with_two_producers(pdf: bytes) -> bytes:
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    ref = reader.trailer_view.raw_get("/Info").reference
    body = BytesIO()
    reader.get_object(ref).write_to_stream(body, None)
    forged = body.getvalue().rstrip()[:-2] + b" /Producer (" + FORGED.encode() + b") >>"
    return _raw_update(pdf, {ref.idnum: forged})


def test_dictionary_with_a_key_given_twice_is_refused(sqlite_env: Env, signed: Signed) -> None:
    """pyHanko reads the first ``/Producer`` (unchanged), pdf.js the second (forged)."""
    _refused(verify_api(sqlite_env, _info_with_two_producers(signed.pdf)), AMBIGUOUS)


def test_duplicate_keys_are_seen_with_pyhankos_logging_quietened(
    sqlite_env: Env, signed: Signed
) -> None:
    """The parser reports a repeated key only in its log: an operator setting the
    ``pyhanko`` loggers to ERROR must not switch the check off."""
    quiet = logging.getLogger("pyhanko")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _refused(verify_api(sqlite_env, _info_with_two_producers(signed.pdf)), AMBIGUOUS)
    finally:
        quiet.setLevel(level)


# --------------------------------------------------------------------------- bombs


def _sparse(size: int) -> bytes:
    """``size`` bytes that deflate ~60:1 (under pyHanko's default ratio limits)."""
    rnd = random.Random(1)
    block = bytearray(b" " * (1 << 20))
    for _ in range(4500):
        block[rnd.randrange(len(block))] = 0x41 + rnd.randrange(26)
    return bytes(block) * (size >> 20)  # repeated beyond deflate's 32 KiB window


def _object_stream_bombs(pdf: bytes, dictionary: bytes, count: int, size: int) -> bytes:
    """``count`` object streams of ``size`` inflated bytes each, in an update whose
    cross-reference section is a stream (type-2 entries point into them)."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    first = int(reader.trailer["/Size"])
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    entries: dict[int, tuple[int, int, int]] = {}
    padding = _sparse(size)
    for i in range(count):
        member, stream = first + 2 * i, first + 2 * i + 1
        head = b"%d 0\n" % member
        data = zlib.compress(head + b"<< >>\n" + padding, 6)
        entries[member] = (2, stream, 0)
        entries[stream] = (1, len(out), 0)
        out += (
            b"%d 0 obj\n<< %s /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (stream, dictionary, len(head), len(data))
            + data
            + b"\nendstream\nendobj\n"
        )
    xref = first + 2 * count
    entries[xref] = (1, len(out), 0)
    rows = b"".join(struct.pack(">BIH", *entries[n]) for n in sorted(entries))
    index = b" ".join(b"%d 1" % n for n in sorted(entries))
    table = zlib.compress(rows)
    root = reader.trailer_view.raw_get("/Root").reference.idnum
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    at = len(out)
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /Index [%s] /W [1 4 2] /Root %d 0 R /Prev %d "
        b"/Filter /FlateDecode /Length %d >>\nstream\n"
        % (xref, xref + 1, index, root, prev, len(table))
        + table
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % at
    return bytes(out)


@pytest.mark.parametrize(
    "dictionary",
    [b"/Type /ObjStm /Pad (" + b"x" * 5000 + b")", b"/Type /Obj#53tm"],
    ids=["padded-dictionary", "escaped-name"],
)
def test_object_stream_bomb_that_dodges_the_byte_scan_is_bounded(
    sqlite_env: Env, signed: Signed, dictionary: bytes
) -> None:
    """Two object streams of 40 MiB each (~0.5 MB of upload) in an update that adds
    nothing else.  Under pyHanko's defaults (64 MiB per object stream) both were inflated
    and the harmless objects in them made the update acceptable: TOTAL_PASSED at the cost
    of 80 MiB.  The untrusted reader stops each at 32 MiB: the objects cannot be read, so
    the update is a change nobody can vouch for."""
    bombed = _object_stream_bombs(signed.pdf, dictionary, 2, 40 * 1024 * 1024)
    assert len(bombed) < 2 * 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    report = verify_api(sqlite_env, bombed)
    assert time.perf_counter() - start < 5
    assert report["indication"] != "TOTAL_PASSED"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 150


def test_untrusted_reader_refuses_a_stream_beyond_its_limit() -> None:
    """The limits themselves: one stream inflating past 32 MiB is a decode-limit error."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    from signing.untrusted import MAX_STREAM_BYTES, untrusted_reader

    data = zlib.compress(bytes(MAX_STREAM_BYTES + 1), 9)
    pdf = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        + b"3 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data)
        + data
        + b"\nendstream\nendobj\n"
    )
    offsets = [m.start() for m in re.finditer(rb"\d+ 0 obj", pdf)]
    xref = len(pdf)
    pdf += b"xref\n0 4\n0000000000 65535 f\r\n" + b"".join(
        b"%010d 00000 n\r\n" % o for o in offsets
    )
    pdf += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    reader = untrusted_reader(pdf)
    with pytest.raises(PdfDecodeLimitError):
        _ = reader.get_object(generic.Reference(3, 0)).data
