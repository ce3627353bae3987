# mypy: disallow-untyped-calls=False
"""A PAdES signature written by the PDF producer itself, filled in without re-reading the PDF.

The usual way (:mod:`.pades`) parses the rendered file with pyHanko, adds the signature
field in an incremental update and writes the file a second time: about half of the
signing time of a 1-page document.  Here the renderer's finisher (WeasyPrint hands it
the ``pydyf`` document just before writing) adds what that update would have added —

- the signature dictionary with a zero-filled ``/Contents`` and a blank ``/ByteRange``,
  as an object of its own outside any object stream (its bytes must stay findable);
- the signature field merged with its widget over the reserved area, with an empty
  appearance (the block is already page content), ``/F 132`` (print, locked);
- ``/AcroForm`` with ``/SigFlags 3`` and the ESIC extension (PAdES in PDF 1.7) in the
  catalog —

and :func:`fill` then computes the byte range over the written file, hashes it, and puts
the CMS (made by the same pyHanko signer, with the same signed attributes) into the
placeholder.  The document has one revision; B-LT and B-LTA add theirs after it as
before.  The result is checked like every signed document (pdfsig, pyHanko, PDF/A).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pydyf
from pyhanko.pdf_utils import generic
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper

from .errors import SigningError

WIDGET_FLAGS = 132
"""Print (4) and locked (128), as pyHanko sets them."""
BLANK_BYTE_RANGE = b"[0 0000000000 0000000000 0000000000]"
"""The ``/ByteRange`` as written; :func:`fill` overwrites it with the real offsets,
padded with spaces to the same length (ten digits each: far beyond any upload limit)."""


class SlotTooSmall(SigningError):
    """The CMS did not fit the room reserved for it (an unusually large chain or token)."""


class _Uncompressed(pydyf.Dictionary):  # type: ignore[misc]
    """A dictionary pydyf writes as an object of its own, never into an object stream."""

    @property
    def compressible(self) -> bool:
        return False


@dataclass
class SignatureSlot:
    """The empty signature a renderer writes (:meth:`place`) for :func:`fill` to complete.

    One per document; :meth:`place` remembers the pydyf object, whose ``offset`` pydyf
    sets when it writes the file, so the placeholder is found without a search.
    """

    field_name: str
    signer_name: str
    reason: str
    location: str | None
    signing_time: datetime
    hex_digits: int
    """Length of the zero-filled ``/Contents`` (pyHanko's ``bytes_reserved`` counts the
    same: the CMS may take half as many bytes)."""
    _signature: Any = field(default=None, init=False, repr=False)

    @property
    def placed(self) -> bool:
        return self._signature is not None

    def place(
        self, pdf: pydyf.PDF, page_index: int, rect: tuple[float, float, float, float]
    ) -> None:
        """Add the signature dictionary, field and widget to ``pdf`` (WeasyPrint's finisher)."""
        signature = _Uncompressed(
            {
                "Type": "/Sig",
                "Filter": "/Adobe.PPKLite",
                "SubFilter": "/ETSI.CAdES.detached",
                "M": pydyf.String(str(generic.pdf_date(self.signing_time))),
                "Name": pydyf.String(self.signer_name),
                "Reason": pydyf.String(self.reason),
            }
        )
        if self.location:
            signature["Location"] = pydyf.String(self.location)
        signature["ByteRange"] = BLANK_BYTE_RANGE
        signature["Contents"] = b"<" + b"0" * self.hex_digits + b">"
        pdf.add_object(signature)
        x1, y1, x2, y2 = rect
        appearance = pydyf.Stream(
            [b"q Q"],
            {
                "Type": "/XObject",
                "Subtype": "/Form",
                "BBox": pydyf.Array([0, 0, round(x2 - x1, 4), round(y2 - y1, 4)]),
                "Resources": pydyf.Dictionary(),
            },
        )
        pdf.add_object(appearance)
        page_reference = pdf.page_references[page_index]
        page = pdf.objects[int(page_reference.split()[0])]
        widget = pydyf.Dictionary(
            {
                "FT": "/Sig",
                "T": pydyf.String(self.field_name),
                "Type": "/Annot",
                "Subtype": "/Widget",
                "F": WIDGET_FLAGS,
                "Rect": pydyf.Array([round(v, 4) for v in rect]),
                "P": page_reference,
                "AP": pydyf.Dictionary({"N": appearance.reference}),
                "V": signature.reference,
            }
        )
        pdf.add_object(widget)
        page.setdefault("Annots", pydyf.Array()).append(widget.reference)
        pdf.catalog["AcroForm"] = pydyf.Dictionary(
            {"Fields": pydyf.Array([widget.reference]), "SigFlags": 3}
        )
        pdf.catalog["Extensions"] = pydyf.Dictionary(
            {
                "ESIC": pydyf.Dictionary(
                    {"Type": "/DeveloperExtensions", "BaseVersion": "/1.7", "ExtensionLevel": 1}
                )
            }
        )
        self._signature = signature

    def contents_span(self, pdf: bytes) -> tuple[int, int, int]:
        """Offsets of the blank ``/ByteRange`` and of ``<`` and just after ``>`` of the
        placeholder ``/Contents``, in the written file."""
        if self._signature is None:
            raise SigningError("the signature slot was not placed in the document")
        start = int(self._signature.offset)
        end = pdf.index(b"endobj", start)
        byte_range = pdf.index(b"/ByteRange [0 ", start, end) + len(b"/ByteRange ")
        contents = pdf.index(b"/Contents <", start, end) + len(b"/Contents ")
        closing = contents + self.hex_digits + 1
        if pdf[closing : closing + 1] != b">":
            raise SigningError("the signature placeholder was not written as reserved")
        return byte_range, contents, closing + 1


async def fill(
    pdf: bytes,
    slot: SignatureSlot,
    signer: signers.Signer,
    *,
    md_algorithm: str,
    timestamper: TimeStamper | None,
) -> bytes:
    """The written document with its placeholder signed (PAdES B-B, or B-T with
    ``timestamper``); :class:`SlotTooSmall` if the CMS does not fit."""
    byte_range_at, start, end = slot.contents_span(pdf)
    numbers = f"[0 {start} {end} {len(pdf) - end}]".encode()
    width = len(BLANK_BYTE_RANGE)
    if len(numbers) > width or pdf[byte_range_at : byte_range_at + width] != BLANK_BYTE_RANGE:
        raise SigningError("the signature's byte range placeholder was not written as reserved")
    data = bytearray(pdf)
    data[byte_range_at : byte_range_at + width] = numbers.ljust(width)
    digest = hashlib.new(md_algorithm)
    digest.update(memoryview(data)[:start])
    digest.update(memoryview(data)[end:])
    cms = await signer.async_sign(
        digest.digest(),
        md_algorithm,
        use_pades=True,
        timestamper=timestamper,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=slot.signing_time),
    )
    encoded = cms.dump().hex().encode()
    room = end - start - 2
    if len(encoded) > room:
        raise SlotTooSmall(
            f"the signature needs {len(encoded) // 2} bytes; {room // 2} were reserved"
        )
    data[start + 1 : start + 1 + len(encoded)] = encoded
    return bytes(data)
