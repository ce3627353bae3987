"""Reading a PDF that came from outside: pyHanko's reader with tight decompression limits.

Uploads to the verifier, PDFs attached by upstream systems, receipts and lists from the
other Party are hostile until proven otherwise.  pyHanko's own defaults for untrusted
input let one document decompress the larger of 256 MiB and 100 times its size (a 10 MB
upload: 1 GB); our byte scan for object-stream bombs (``structure.check_parser_streams``)
can be dodged by padding the stream dictionary or escaping ``/ObjStm`` in a name.  So
every such reader gets these limits, enforced by pyHanko wherever it inflates a stream
(object and cross-reference streams, XMP, validation data): a bomb becomes a
``PdfDecodeLimitError`` — a damaged file — within ~64 MiB of work.
"""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils.decode_limits import (
    DecodeLimits,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.reader import PdfFileReader

MiB = 1024 * 1024

MAX_STREAM_BYTES = 32 * MiB
"""Inflated size of one stream (the largest legitimate one is a 16 MiB source XML)."""
DOCUMENT_BASE_BYTES = 64 * MiB
DOCUMENT_RATIO = 4
"""One reader (and each historical revision's) inflates at most the larger of
:data:`DOCUMENT_BASE_BYTES` and this many times the file's size."""

UNTRUSTED_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_output_size=MAX_STREAM_BYTES),
    document_budget=DocumentDecodeBudget(
        base_allowance=DOCUMENT_BASE_BYTES, max_ratio=DOCUMENT_RATIO
    ),
)


def untrusted_reader(pdf: bytes) -> PdfFileReader:
    """A lenient (``strict=False``) reader of ``pdf`` under :data:`UNTRUSTED_LIMITS`."""
    return PdfFileReader(BytesIO(pdf), strict=False, decode_limits=UNTRUSTED_LIMITS)
