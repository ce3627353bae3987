"""Inspection helpers for signed PDFs (used by the PDF/A assertions)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader


def reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf))


def xmp_text(pdf: bytes) -> str:
    meta = reader(pdf).root["/Metadata"]
    return bytes(meta.data).decode("utf-8")


def info_producer(pdf: bytes) -> str:
    return str(reader(pdf).trailer["/Info"]["/Producer"])


def xmp_producer(pdf: bytes) -> str | None:
    from pyhanko.pdf_utils.metadata import model

    meta = reader(pdf).root["/Metadata"]
    for struct in meta.xmp:
        for name, value in struct:
            if name == model.PDF_PRODUCER:
                return str(value.value)
    return None


def xmp_pdfaid(pdf: bytes) -> tuple[str | None, str | None]:
    from pyhanko.pdf_utils.metadata import model

    ns = "http://www.aiim.org/pdfa/ns/id/"
    part = conf = None
    meta = reader(pdf).root["/Metadata"]
    for struct in meta.xmp:
        for name, value in struct:
            if name == model.ExpandedName(ns=ns, local_name="part"):
                part = str(value.value)
            if name == model.ExpandedName(ns=ns, local_name="conformance"):
                conf = str(value.value)
    return part, conf


def signature_widget(pdf: bytes) -> generic.DictionaryObject:
    r = reader(pdf)
    sig = r.embedded_signatures[-1]
    field = sig.sig_field
    return field  # merged field/widget (pyHanko combines them)


def fonts_in(obj: Any, seen: set[int] | None = None) -> list[generic.DictionaryObject]:
    """All font dictionaries reachable from a form XObject's resources."""
    seen = set() if seen is None else seen
    found: list[generic.DictionaryObject] = []
    if isinstance(obj, generic.IndirectObject):
        if obj.idnum in seen:
            return found
        seen.add(obj.idnum)
        obj = obj.get_object()
    if not isinstance(obj, generic.DictionaryObject):
        return found
    res = obj.get("/Resources")
    if isinstance(res, generic.DictionaryObject):
        fonts = res.get("/Font")
        if isinstance(fonts, generic.DictionaryObject):
            for key in fonts:
                found.append(fonts[key])
        xobjs = res.get("/XObject")
        if isinstance(xobjs, generic.DictionaryObject):
            for key in xobjs:
                found.extend(fonts_in(xobjs.raw_get(key), seen))
    return found


def font_is_embedded(font: generic.DictionaryObject) -> bool:
    if str(font.get("/Subtype")) == "/Type0":
        font = font["/DescendantFonts"][0]
    desc = font.get("/FontDescriptor")
    if isinstance(desc, generic.IndirectObject):
        desc = desc.get_object()
    if not isinstance(desc, generic.DictionaryObject):
        return False
    return any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def uses_transparency(obj: Any, seen: set[int] | None = None) -> bool:
    seen = set() if seen is None else seen
    if isinstance(obj, generic.IndirectObject):
        if obj.idnum in seen:
            return False
        seen.add(obj.idnum)
        obj = obj.get_object()
    if not isinstance(obj, generic.DictionaryObject):
        return False
    if "/Group" in obj:
        return True
    res = obj.get("/Resources")
    if isinstance(res, generic.DictionaryObject):
        gs = res.get("/ExtGState")
        if isinstance(gs, generic.DictionaryObject):
            for key in gs:
                d = gs[key]
                for k in ("/CA", "/ca"):
                    if k in d and float(d[k]) < 1:
                        return True
                if "/SMask" in d and str(d["/SMask"]) != "/None":
                    return True
        xobjs = res.get("/XObject")
        if isinstance(xobjs, generic.DictionaryObject):
            return any(uses_transparency(xobjs.raw_get(k), seen) for k in xobjs)
    return False


def signed_data(pdf: bytes) -> cms.SignedData:
    return reader(pdf).embedded_signatures[-1].signed_data


def byte_range(pdf: bytes) -> list[int]:
    sig = reader(pdf).embedded_signatures[-1]
    return [int(x) for x in sig.sig_object["/ByteRange"]]
