"""Second round of the adversarial review (December 2026): updates that pdf.js or MuPDF
show while pyHanko and a comparison by object number did not see them.  Each was
TOTAL_PASSED before.

* A new catalog *object* (``/Root`` moved) carrying a forged XMP: the catalog and the
  metadata were compared only when the object written had existed before signing.
* XMP packets that parse differently: a comment or processing instruction inside a value
  (lxml's ``.text`` stops there, pdf.js concatenates), text after ``rdf:Alt``, and a first
  ``rdf:RDF`` bound to another namespace (pdf.js finds it by prefix, we by namespace).
* A producer string with a word glued to pyHanko's version.
* Bytes pyHanko never reads: an object no cross-reference section lists, a ``startxref``
  two bytes off (pyHanko corrects it silently; the viewers rebuild the table by scanning
  and take the unlisted forged page), a ``/Prev`` that skips a revision.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.verification.conftest import Env, Signed
from tests.verification.hostile.conftest import verify_api
from tests.verification.hostile.test_viewer_differentials import (
    METADATA,
    _raw_update,
    _refused,
)
from tests.verification.hostile.test_wrapping import FORGED


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf), strict=False)


def _xmp(pdf: bytes) -> str:
    text: str = _reader(pdf).root["/Metadata"].data.decode()
    return text


def _metadata_stream(text: str) -> bytes:
    data = text.encode()
    return b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(data) + (
        data + b"\nendstream"
    )


def _serialised(obj: Any) -> bytes:
    out = BytesIO()
    obj.write_to_stream(out, None)
    return out.getvalue()


def _title(signed: Signed) -> str:
    return f"Запрос № {signed.registration_number}"


def _size(pdf: bytes) -> int:
    return int(_reader(pdf).trailer["/Size"])


def test_new_catalog_object_with_a_forged_xmp_is_refused(sqlite_env: Env, signed: Signed) -> None:
    reader = _reader(signed.pdf)
    catalog_ref = reader.trailer_view.raw_get("/Root").reference
    xmp_ref = reader.root.raw_get("/Metadata").reference
    first = _size(signed.pdf)
    catalog = _serialised(reader.get_object(catalog_ref)).replace(
        b"%d 0 R" % xmp_ref.idnum, b"%d 0 R" % (first + 1), 1
    )
    forged_xmp = _xmp(signed.pdf).replace(_title(signed), f"Запрос № {FORGED}")
    forged = _raw_update(
        signed.pdf, {first: catalog, first + 1: _metadata_stream(forged_xmp)}, root=first
    )
    _refused(verify_api(sqlite_env, forged), "изменён каталог документа")


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda x, t: x.replace(t + "</rdf:li>", t + "<!-- -->9 FORGED</rdf:li>"),
        lambda x, t: x.replace(t + "</rdf:li>", t + "<?x?>9 FORGED</rdf:li>"),
        lambda x, t: x.replace("</rdf:Alt></dc:title>", "</rdf:Alt> FORGED</dc:title>", 1),
        lambda x, t: x.replace(
            x[x.index("<rdf:RDF") : x.index("</rdf:RDF>") + len("</rdf:RDF>")],
            '<rdf:RDF xmlns:rdf="urn:not-rdf" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            '<rdf:Description rdf:about=""><dc:title><rdf:Alt><rdf:li xml:lang="x-default">'
            f"{FORGED}</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF>"
            + x[x.index("<rdf:RDF") : x.index("</rdf:RDF>") + len("</rdf:RDF>")]
            .replace("rdf:", "r:")
            .replace("xmlns:rdf=", "xmlns:r="),
        ),
    ],
    ids=["comment-in-title", "pi-in-title", "text-after-alt", "rdf-prefix-differential"],
)
def test_xmp_that_viewers_read_differently_is_refused(
    sqlite_env: Env, signed: Signed, rewrite: Any
) -> None:
    reader = _reader(signed.pdf)
    xmp_ref = reader.root.raw_get("/Metadata").reference
    text = rewrite(_xmp(signed.pdf), _title(signed))
    assert text != _xmp(signed.pdf)
    forged = _raw_update(signed.pdf, {xmp_ref.idnum: _metadata_stream(text)})
    _refused(verify_api(sqlite_env, forged), METADATA)


def test_producer_with_a_word_glued_to_the_version_is_refused(
    sqlite_env: Env, signed: Signed
) -> None:
    reader = _reader(signed.pdf)
    info_ref = reader.trailer_view.raw_get("/Info").reference
    info = reader.get_object(info_ref)
    forged_info = generic.DictionaryObject(dict(info.items()))
    forged_info[generic.NameObject("/Producer")] = generic.TextStringObject(
        "WeasyPrint 70.0; pyHanko 0.38.0forgedbymallory"
    )
    forged = _raw_update(signed.pdf, {info_ref.idnum: _serialised(forged_info)})
    _refused(verify_api(sqlite_env, forged), METADATA)


def _forged_page_content(signed: Signed) -> tuple[int, bytes]:
    """Page 1's content stream number and a forged replacement object."""
    reader = _reader(signed.pdf)
    page = reader.root["/Pages"]["/Kids"][0]
    contents = page.raw_get("/Contents")
    number = (contents[0] if isinstance(contents, generic.ArrayObject) else contents).idnum
    ops = b"q 1 1 1 rg 0 0 600 850 re f Q BT /F1 28 Tf 60 700 Td (" + FORGED.encode() + b") Tj ET"
    data = zlib.compress(ops)
    body = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return number, b"%d 0 obj\n" % number + body + b"\nendobj\n"


@pytest.mark.parametrize(
    ("delta", "phrase"),
    [(0, "не внесённых в таблицы ссылок"), (2, "startxref")],
    ids=["unlisted-object", "unlisted-object-and-startxref-off"],
)
def test_object_no_xref_lists_is_refused(
    sqlite_env: Env, signed: Signed, delta: int, phrase: str
) -> None:
    _, unlisted = _forged_page_content(signed)
    filler = _size(signed.pdf)
    forged = _raw_update(signed.pdf, {filler: b"null"}, unlisted=unlisted, startxref_delta=delta)
    _refused(verify_api(sqlite_env, forged), phrase)


def test_revision_skipped_by_prev_is_refused(sqlite_env: Env, signed: Signed) -> None:
    """Update 1 forges page 1; update 2's ``/Prev`` points past it to the signed
    revision, so pyHanko never reads update 1 — a scanning viewer does."""
    number, forged_object = _forged_page_content(signed)
    body = forged_object.split(b"obj\n", 1)[1].rsplit(b"\nendobj", 1)[0]
    signed_xref = _reader(signed.pdf).xrefs.get_startxref_for_revision(0)
    first = _raw_update(signed.pdf, {number: body})
    filler = _size(first)
    forged = _raw_update(first, {filler: b"null"}, prev=signed_xref)
    _refused(verify_api(sqlite_env, forged), "%%EOF")


def test_info_rewritten_in_place_is_refused(sqlite_env: Env, signed: Signed) -> None:
    """``/Info`` rewritten under its own object number.  A historical revision's trailer
    resolves ``/Info`` through the reader — today's version — so the signed revision's
    entries compared equal to the forged ones."""
    reader = _reader(signed.pdf)
    info_ref = reader.trailer_view.raw_get("/Info").reference
    info = generic.DictionaryObject(dict(reader.get_object(info_ref).items()))
    info[generic.NameObject("/Title")] = generic.TextStringObject(f"Запрос № {FORGED}")
    forged = _raw_update(signed.pdf, {info_ref.idnum: _serialised(info)})
    _refused(verify_api(sqlite_env, forged), METADATA)


# --------------------------------------------------------------------------- round three


def _forged_body(signed: Signed) -> tuple[int, bytes]:
    number, forged_object = _forged_page_content(signed)
    return number, forged_object.split(b"obj\n", 1)[1].rsplit(b"\nendobj", 1)[0]


@pytest.mark.parametrize(
    "header",
    [b".%d 0 obj", b"+%d +0 obj", b"%d 0 %%x\nobj", b"%d 0obj", b"%d 00 obj"],
    ids=["after-a-dot", "signed-numbers", "comment-before-obj", "obj-glued", "leading-zero"],
)
def test_unlisted_object_in_any_header_spelling_is_refused(
    sqlite_env: Env, signed: Signed, header: bytes
) -> None:
    """pdf.js resumes its scan right after ``endobj`` (``endobj.7 0 obj``); MuPDF reads
    ``+7``, skips comments and lexes ``0obj`` as two tokens: a scan for headers must
    find every spelling a repairing viewer finds."""
    number, body = _forged_body(signed)
    filler = _size(signed.pdf)
    hidden = header % number + b"\n" + body + b"\nendobj\n"
    forged = _raw_update(signed.pdf, {filler: b"null"}, after=hidden)
    _refused(verify_api(sqlite_env, forged), "не внесённых в таблицы ссылок")


def test_listed_object_with_a_header_viewers_reject_is_refused(
    sqlite_env: Env, signed: Signed
) -> None:
    """pyHanko reads ``2 0 obz`` as a header; pdf.js and MuPDF do not, and repair the
    file by scanning — the trigger for every unlisted-object trick."""
    reader = _reader(signed.pdf)
    catalog_ref = reader.trailer_view.raw_get("/Root").reference
    catalog = _serialised(reader.get_object(catalog_ref))
    forged = _raw_update(signed.pdf, {catalog_ref.idnum: catalog}, header_word=b"obz")
    _refused(verify_api(sqlite_env, forged), "заголовок объекта")


def test_object_stream_with_an_unlisted_member_is_refused(sqlite_env: Env, signed: Signed) -> None:
    """A tail object stream whose xref stream lists only its first member; MuPDF's repair
    adopts the second, a forged page dictionary."""
    reader = _reader(signed.pdf)
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0).reference
    page = _serialised(reader.get_object(page_ref)).replace(b"/Rotate 0", b"")
    page = page.rstrip()[:-2] + b" /Rotate 90 >>"
    first = _size(signed.pdf)
    members = [(first, b"null"), (page_ref.idnum, page)]
    offsets, bodies = [], b""
    for number, body in members:
        offsets.append(b"%d %d" % (number, len(bodies)))
        bodies += body + b"\n"
    head = b" ".join(offsets) + b"\n"
    data = zlib.compress(head + bodies)
    out = bytearray(signed.pdf if signed.pdf.endswith(b"\n") else signed.pdf + b"\n")
    stream_number, xref_number = first + 1, first + 2
    stream_at = len(out)
    out += (
        b"%d 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (stream_number, len(head), len(data))
        + data
        + b"\nendstream\nendobj\n"
    )
    entries = {first: (2, stream_number, 0), stream_number: (1, stream_at, 0)}
    xref_at = len(out)
    entries[xref_number] = (1, xref_at, 0)
    rows = b"".join(struct.pack(">BIH", *entries[n]) for n in sorted(entries))
    table = zlib.compress(rows)
    index = b" ".join(b"%d 1" % n for n in sorted(entries))
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    root = reader.trailer_view.raw_get("/Root").reference.idnum
    info = reader.trailer_view.raw_get("/Info").reference.idnum
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /Index [%s] /W [1 4 2] /Root %d 0 R /Info %d 0 R "
        b"/Prev %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (xref_number, xref_number + 1, index, root, info, prev, len(table))
        + table
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    _refused(verify_api(sqlite_env, bytes(out)), "поток объектов")
