# mypy: disallow-untyped-calls=False
"""Layout contract between the templates (render pipeline) and the signer.

The template reserves the signature area on the last page as an empty box with
HTML id :data:`SIGNATURE_AREA_ID` of :data:`SIGNATURE_AREA_WIDTH_MM` ×
:data:`SIGNATURE_AREA_HEIGHT_MM`.  WeasyPrint writes every id as a named
destination in the catalog's ``/Names /Dests`` tree, with value
``[pageRef /XYZ left top zoom]`` in PDF user space (points, origin bottom-left):
the top-left corner of the box.  :func:`find_signature_area` turns that into the
rectangle the visible signature is drawn in.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

SIGNATURE_AREA_ID = "migdocs-signature-area"
SIGNATURE_AREA_WIDTH_MM = 170
SIGNATURE_AREA_HEIGHT_MM = 42

MM = 72 / 25.4
"""PDF points per millimetre."""

FALLBACK_BOTTOM_MARGIN_MM = 15
"""Distance from the page bottom of the fallback area when the box is absent."""


@dataclass(frozen=True)
class SignatureArea:
    """Where the visible signature goes."""

    page_index: int
    """Zero-based page index."""
    rect: tuple[float, float, float, float]
    """``(x1, y1, x2, y2)`` in PDF user space points, lower-left / upper-right."""
    found: bool
    """True if the template's reserved box was found, False for the fallback."""

    @property
    def width(self) -> float:
        return self.rect[2] - self.rect[0]

    @property
    def height(self) -> float:
        return self.rect[3] - self.rect[1]


def _iter_name_tree(node: generic.DictionaryObject, depth: int = 0) -> dict[str, generic.PdfObject]:
    """Flatten a PDF name tree (``/Names`` leaves and ``/Kids``), bounded in depth."""
    out: dict[str, generic.PdfObject] = {}
    if depth > 32:
        return out
    names = node.get("/Names")
    if isinstance(names, generic.ArrayObject):
        for i in range(0, len(names) - 1, 2):
            out[str(names[i])] = names[i + 1]
    kids = node.get("/Kids")
    if isinstance(kids, generic.ArrayObject):
        for kid in kids:
            kid_obj = kid.get_object() if isinstance(kid, generic.IndirectObject) else kid
            if isinstance(kid_obj, generic.DictionaryObject):
                out.update(_iter_name_tree(kid_obj, depth + 1))
    return out


def _named_destination(reader: PdfFileReader, name: str) -> generic.ArrayObject | None:
    root = reader.root
    dest: generic.PdfObject | None = None
    names = root.get("/Names")
    if isinstance(names, generic.DictionaryObject):
        dests_tree = names.get("/Dests")
        if isinstance(dests_tree, generic.DictionaryObject):
            dest = _iter_name_tree(dests_tree).get(name)
    if dest is None:
        # PDF 1.1 style: catalog /Dests dictionary
        old = root.get("/Dests")
        if isinstance(old, generic.DictionaryObject):
            dest = old.get("/" + name)
    if isinstance(dest, generic.IndirectObject):
        dest = dest.get_object()
    if isinstance(dest, generic.DictionaryObject):
        dest = dest.get("/D")
    return dest if isinstance(dest, generic.ArrayObject) else None


def _page_box(page: generic.DictionaryObject) -> tuple[float, float, float, float]:
    box = page.get("/MediaBox") or [0, 0, 595.28, 841.89]
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def find_signature_area(
    reader: PdfFileReader,
    *,
    area_id: str = SIGNATURE_AREA_ID,
    width_mm: float = SIGNATURE_AREA_WIDTH_MM,
    height_mm: float = SIGNATURE_AREA_HEIGHT_MM,
) -> SignatureArea:
    """Locate the reserved signature box; fallback: bottom of the last page.

    The fallback is centred horizontally, :data:`FALLBACK_BOTTOM_MARGIN_MM` above
    the bottom edge, and shrunk to the page width if needed.
    """
    width = width_mm * MM
    height = height_mm * MM
    page_count = int(reader.root["/Pages"]["/Count"])
    dest = _named_destination(reader, area_id)
    if dest is not None and len(dest) >= 4 and str(dest[1]) == "/XYZ":
        page_ref = dest.raw_get(0)
        target = page_ref.reference if isinstance(page_ref, generic.IndirectObject) else None
        for index in range(page_count):
            page_ref_here, _ = reader.find_page_for_modification(index)
            if target is not None and page_ref_here.reference == target:
                left = float(dest[2]) if dest[2] is not None else 0.0
                top = float(dest[3]) if dest[3] is not None else 0.0
                return SignatureArea(index, (left, top - height, left + width, top), True)
    last = page_count - 1
    last_ref, _ = reader.find_page_for_modification(last)
    x1, y1, x2, _ = _page_box(last_ref.get_object())
    width = min(width, (x2 - x1) - 2 * 10 * MM)
    left = x1 + ((x2 - x1) - width) / 2
    bottom = y1 + FALLBACK_BOTTOM_MARGIN_MM * MM
    return SignatureArea(last, (left, bottom, left + width, bottom + height), False)
