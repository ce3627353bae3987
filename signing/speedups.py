# mypy: disallow-untyped-calls=False
"""Behaviour-preserving speed-ups of hot spots in pyHanko / asn1crypto parsing.

Measured while verifying a 1-signature, 2-page document (pyHanko 0.38, asn1crypto 1.5):

* ``pyhanko.pdf_utils.generic.read_hex_string_from_stream`` reads a hex string one
  token at a time through ``read_non_whitespace``.  A signature's ``/Contents`` is a
  16 KiB hex string (8 KiB reserved), so every verification spent ~7 ms there — about
  half of the whole validation.  :func:`read_hex_string` finds the closing ``>`` with
  one ``bytes.find`` and decodes with :func:`binascii.unhexlify`; same result, same
  errors for bad digits or a truncated stream.
* ``asn1crypto.x509.NameTypeAndValue._ldap_string_prep`` (RFC 4518 string preparation,
  used for every issuer/subject comparison) is a pure function of its string argument
  but is recomputed for every freshly parsed certificate; Cyrillic names make it slow.
  It is memoised (bounded LRU).
* pyHanko's tokenizer reads every name (``/Type``, ``/Page`` …) one byte at a time:
  ``read_until_delimiter`` through a generator of one-byte reads, then ``_decode_name``
  through a byte iterator and a ``BytesIO``.  A verification reads some 150 names and
  keywords; :func:`read_until_delimiter` finds the delimiter with one regular-expression
  search per 64-byte chunk, and :func:`decode_name` takes the common case — no ``#``
  escape, only regular printable ASCII — in one ``decode``; anything else goes to
  pyHanko's own function (same result, same errors).
* ``generic_cms.extract_certs_for_validation`` (find the signer's certificate among the
  CMS certificates and check the ESS signing-certificate attribute, comparing issuer
  names) runs twice on the same CMS in one PDF signature validation: once for the
  status and once for the attribute certificates.  :func:`extract_certs_for_validation`
  keeps each thread's last answer for the very same ``SignedData`` object (identity,
  not equality) and returns it the second time; failures are never kept.
* ``PdfFileReader._get_object_from_stream`` re-reads the header of an object stream
  (``N`` pairs of numbers, token by token) for every object it takes from it.
  :func:`get_object_from_stream` parses a plain header (only whitespace and digits, ``N``
  pairs) once per stream and reader and then reads the object as pyHanko does; strict
  readers, unusual headers and every error case go to pyHanko's own method.
* ``_read_string_literal_bytes`` reads a literal string ``( … )`` one byte per
  ``read(1)`` and writes each into a ``BytesIO``; WeasyPrint's and pyHanko's dates,
  names and reasons (UTF-16 with octal escapes) are some twenty per verification.
  :func:`read_string_literal` jumps from one ``(``, ``)`` or ``\\`` to the next with a
  regular expression over the ``BytesIO``'s buffer and decodes the escapes as pyHanko
  does; any escape pyHanko refuses, an unterminated string or another kind of stream
  goes to pyHanko's own function (same result, same errors, same stream position —
  checked against it on 200,000 random strings in the tests).
* ``asn1crypto.x509.Name.__eq__`` (RFC 5280 comparison: every RDN string-prepared and
  compared as a set) runs for every issuer-and-serial match — finding the signer's
  certificate, the ESS signing-certificate attribute (twice).  Names whose DER contents
  are identical are equal under that comparison, so :func:`name_equal` answers those at
  once and leaves every other pair to asn1crypto.
* ``xref.parse_xref_stream`` reads every cross-reference stream entry field by field
  (one ``BytesIO.read`` and one ``struct.unpack`` per field, some 500 calls for a
  two-revision document).  :func:`parse_xref_stream` slices the decoded stream once per
  entry and converts with ``int.from_bytes``; it takes only the regular case (``/W`` three
  non-negative integers, ``/Index`` increasing pairs, data exactly as long as the entries)
  and leaves everything else — short or trailing data, odd ``/W`` — to pyHanko's own
  generator (same entries, same errors).
* The certificates in a CMS are parsed afresh for every signature, and everything pyHanko
  asks of them (subject, issuer, key identifiers, extensions, public key) parses again.
  Signatures of one service come from a handful of certificates, so
  :func:`extract_certificate_info` hands out one fully parsed instance per certificate
  (by its DER, bounded LRU of :data:`CERT_CACHE_SIZE`).  An instance is parsed
  completely *before* it is shared, so threads only read it afterwards.

:func:`install` is idempotent and called by :mod:`signing.verification` (the package) on import.
"""

from __future__ import annotations

import binascii
import functools
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from io import BytesIO
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic, xref
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfStreamError, read_non_whitespace
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import general
from pyhanko.sign.validation import generic_cms

_PDF_WHITESPACE = b" \t\n\r\f\x00"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_CHUNK = 64 * 1024
_installed = False


def read_hex_string(stream: Any) -> Any:
    """Drop-in for pyHanko's ``read_hex_string_from_stream`` (stream at ``<``)."""
    stream.read(1)
    start = stream.tell()
    collected = bytearray()
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            raise PdfStreamError("Stream ended prematurely")
        end = chunk.find(b">")
        if end >= 0:
            collected += chunk[:end]
            break
        collected += chunk
    stream.seek(start + len(collected) + 1, os.SEEK_SET)
    digits = bytes(collected).translate(None, _PDF_WHITESPACE)
    if b"%" in digits or digits.translate(None, _HEX_DIGITS):
        # unusual content (comments, junk): let pyHanko's reader decide, error text and all
        stream.seek(start - 1, os.SEEK_SET)
        return _original_read_hex(stream)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


_original_read_hex = generic.read_hex_string_from_stream

_DELIMITER = re.compile(rb"[ \n\r\t\f\x00()<>\[\]{}/%]")
"""PDF whitespace and delimiters (pyHanko's ``PDF_WHITESPACE + PDF_DELIMITERS``)."""
_PLAIN_NAME = re.compile(rb"[^\x00-\x20\x7f-\xff#()<>\[\]{}/%]*")
"""A name without escapes: regular printable ASCII only (no ``#``, no delimiter)."""
_TOKEN_CHUNK = 64


def read_until_delimiter(stream: Any) -> bytes:
    """Drop-in for pyHanko's ``misc.read_until_delimiter``: the bytes up to the next
    whitespace or delimiter, the stream left at that byte (or at the end)."""
    start = stream.tell()
    collected = bytearray()  # linear however long the token (chunks grow up to 64 KiB)
    size = _TOKEN_CHUNK
    while True:
        chunk = stream.read(size)
        if not chunk:
            return bytes(collected)  # end of stream: pyHanko leaves the position there too
        found = _DELIMITER.search(chunk)
        if found is not None:
            collected += chunk[: found.start()]
            stream.seek(start + len(collected), os.SEEK_SET)
            return bytes(collected)
        collected += chunk
        size = min(size * 2, _CHUNK)


def decode_name(name_bytes: bytes) -> Any:
    """Drop-in for pyHanko's ``generic._decode_name`` (the bytes after ``/``)."""
    if _PLAIN_NAME.fullmatch(name_bytes):
        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _original_decode_name(name_bytes)


_last_certs = threading.local()


def extract_certs_for_validation(signed_data: Any) -> Any:
    """Drop-in for pyHanko's ``generic_cms.extract_certs_for_validation``."""
    last = getattr(_last_certs, "entry", None)
    if last is not None and last[0] is signed_data:
        return last[1]
    found = _original_extract_certs(signed_data)
    _last_certs.entry = (signed_data, found)
    return found


_original_extract_certs = generic_cms.extract_certs_for_validation

_HEADER_PAIR = re.compile(rb"[ \t\r\n\f\x00]*([0-9]+)[ \t\r\n\f\x00]+([0-9]+)")
_HEADERS = "_migdocs_objstm_headers"


def _objstm_header(reader: Any, stmnum: int) -> tuple[bytes, int, int, dict[int, int]] | None:
    """The object stream ``stmnum``: decoded data, ``/First``, ``/N`` and object number →
    offset (first occurrence wins, as in pyHanko's loop); ``None`` if anything is unusual."""
    headers: dict[int, Any] = reader.__dict__.setdefault(_HEADERS, {})
    if stmnum in headers:
        return headers[stmnum]  # type: ignore[no-any-return]
    found = None
    try:
        stream: Any = generic.Reference(stmnum, 0, reader).get_object()
        if not isinstance(stream, generic.StreamObject):
            raise TypeError("not a stream")
        count, first = stream["/N"], stream["/First"]
        if (
            stream["/Type"] == "/ObjStm"
            and isinstance(count, int)
            and isinstance(first, int)
            and count > 0
            and first >= 0
        ):
            data = stream.read_data(DecodePurpose.OBJECT_STREAM)
            offsets: dict[int, int] = {}
            position = 0
            for _ in range(count):
                pair = _HEADER_PAIR.match(data, position, first)
                if pair is None:
                    break
                offsets.setdefault(int(pair.group(1)), int(pair.group(2)))
                position = pair.end()
            else:
                found = (data, first, count, offsets)
    except Exception:  # anything odd: pyHanko's own reading decides
        found = None
    headers[stmnum] = found
    return found


def get_object_from_stream(self: Any, idnum: int, stmnum: int, idx: int) -> Any:
    """Drop-in for pyHanko's ``PdfFileReader._get_object_from_stream``."""
    header = None if self.strict else _objstm_header(self, stmnum)
    if header is None:
        return _original_get_object_from_stream(self, idnum, stmnum, idx)
    data, first, count, offsets = header
    offset = offsets.get(idnum)
    if offset is None or not 0 <= idx < count:
        return _original_get_object_from_stream(self, idnum, stmnum, idx)
    stream_data = BytesIO(data)
    stream_data.seek(first + offset)
    try:
        obj = generic.read_object(stream_data, generic.Reference(idnum, 0, self))
    except Exception:  # pyHanko logs, and substitutes null or raises: let it
        return _original_get_object_from_stream(self, idnum, stmnum, idx)
    if isinstance(obj, generic.StreamObject | generic.IndirectObject):
        return obj
    read_non_whitespace(stream_data, seek_back=True, allow_eof=True)  # as pyHanko does
    return obj


_original_get_object_from_stream = PdfFileReader._get_object_from_stream
_original_decode_name = generic._decode_name
_original_read_until_delimiter = generic.read_until_delimiter  # type: ignore[attr-defined]


_LITERAL_SPECIAL = re.compile(rb"[()\\]")
_LITERAL_ESCAPES = {ord(c): c.encode("latin-1") for c in "() /%<>[]#_&$\\"} | {
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("b"): b"\b",
    ord("f"): b"\f",
}
"""What pyHanko's reader makes of ``\\x`` for each ``x`` it accepts (digits and line
breaks apart)."""
_DIGITS = b"0123456789"
_OCTAL_DIGITS = b"01234567"


def read_string_literal(stream: Any) -> bytes:
    """Drop-in for pyHanko's ``generic._read_string_literal_bytes`` (stream at ``(``)."""
    if type(stream) is not BytesIO:
        return _original_read_literal(stream)
    start = stream.tell()
    with stream.getbuffer() as view:
        decoded = _literal_from(view, start)
    if decoded is None:
        stream.seek(start, os.SEEK_SET)
        return _original_read_literal(stream)
    value, end = decoded
    stream.seek(end, os.SEEK_SET)
    return value


def _literal_from(view: memoryview, start: int) -> tuple[bytes, int] | None:
    """The string starting at ``view[start] == (``, and the offset after its ``)``;
    ``None`` for anything pyHanko would refuse or read differently."""
    size = len(view)
    position, depth, out = start + 1, 1, bytearray()
    while True:
        found = _LITERAL_SPECIAL.search(view, position)
        if found is None:
            return None  # unterminated
        at = found.start()
        out += view[position:at]
        byte = view[at]
        if byte == 0x5C:  # backslash
            if at + 1 >= size:
                return None
            escaped = view[at + 1]
            simple = _LITERAL_ESCAPES.get(escaped)
            if simple is not None:
                out += simple
                position = at + 2
            elif escaped in _DIGITS:  # up to three digits, as pyHanko reads them
                end = at + 2
                while end < size and end < at + 4 and view[end] in _DIGITS:
                    end += 1
                digits = bytes(view[at + 1 : end])
                if digits.translate(None, _OCTAL_DIGITS) or int(digits, 8) > 255:
                    return None  # pyHanko raises
                out.append(int(digits, 8))
                position = end
            elif escaped in (0x0A, 0x0D):  # escaped line break: nothing
                position = at + 2
                if position < size and view[position] in (0x0A, 0x0D):
                    position += 1
            else:
                return None  # pyHanko raises
            continue
        depth += 1 if byte == 0x28 else -1
        if depth == 0:
            return bytes(out), at + 1
        out.append(byte)
        position = at + 1


_original_read_literal = generic._read_string_literal_bytes


def name_equal(self: Any, other: Any) -> Any:
    """Drop-in for ``asn1crypto.x509.Name.__eq__``."""
    if isinstance(other, x509.Name) and self.chosen.contents == other.chosen.contents:
        return True
    return _original_name_eq(self, other)


_original_name_eq = x509.Name.__eq__

CERT_CACHE_SIZE = 256
_certificates: OrderedDict[bytes, x509.Certificate] = OrderedDict()
_certificates_lock = threading.Lock()
_PARSED_UP_FRONT = (
    "subject",
    "issuer",
    "serial_number",
    "public_key",
    "key_identifier",
    "authority_key_identifier",
    "key_usage_value",
    "extended_key_usage_value",
    "basic_constraints_value",
    "issuer_serial",
    "sha1",
    "sha256",
)


def shared_certificate(cert: x509.Certificate) -> x509.Certificate:
    """The one parsed instance of the certificate with ``cert``'s DER."""
    der = cert.dump()
    with _certificates_lock:
        found = _certificates.get(der)
        if found is not None:
            _certificates.move_to_end(der)
            return found
    try:
        cert.native  # noqa: B018 - parses every part
        for name in _PARSED_UP_FRONT:
            getattr(cert, name)
    except Exception:  # a malformed certificate: pyHanko's checks will say so, unshared
        return cert
    with _certificates_lock:
        _certificates[der] = cert
        while len(_certificates) > CERT_CACHE_SIZE:
            _certificates.popitem(last=False)
    return cert


def extract_certificate_info(signed_data: Any) -> Any:
    """Drop-in for pyHanko's ``general.extract_certificate_info``."""
    found = _original_extract_certificate_info(signed_data)
    return general.SignedDataCerts(
        signer_cert=shared_certificate(found.signer_cert),
        other_certs=[shared_certificate(c) for c in found.other_certs],
        attribute_certs=found.attribute_certs,
    )


_original_extract_certificate_info = general.extract_certificate_info


def _xref_layout(xref_stream: Any) -> tuple[list[tuple[int, int]], tuple[int, int, int]] | None:
    """The subsections and field widths of a regular cross-reference stream, or None."""
    widths = xref_stream.get("/W")
    pairs = xref_stream.get("/Index", [0, xref_stream.get("/Size")])
    if not isinstance(widths, list) or len(widths) != 3 or not isinstance(pairs, list):
        return None
    if not all(type(w) in _INT_TYPES and 0 <= w <= 8 for w in widths):
        return None
    if len(pairs) % 2 or not all(type(v) in _INT_TYPES and v >= 0 for v in pairs):
        return None
    sections = [(int(pairs[i]), int(pairs[i + 1])) for i in range(0, len(pairs), 2)]
    last_end = 0
    for start, size in sections:
        if start < last_end:
            return None
        last_end = start + size
    return sections, (int(widths[0]), int(widths[1]), int(widths[2]))


_INT_TYPES = (int, generic.NumberObject)


def parse_xref_stream(xref_stream: Any, strict: bool = True) -> Iterator[Any]:
    """Drop-in for pyHanko's ``xref.parse_xref_stream`` (regular streams in one pass)."""
    layout = _xref_layout(xref_stream)
    if layout is None:
        return _original_parse_xref_stream(xref_stream, strict)
    sections, (w0, w1, w2) = layout
    row = w0 + w1 + w2
    count = sum(size for _, size in sections)
    if row == 0:
        return _original_parse_xref_stream(xref_stream, strict)
    data = xref_stream.read_data(DecodePurpose.XREF_STREAM, expected_size=count * (row + 1))
    if len(data) != count * row:
        return _original_parse_xref_stream(xref_stream, strict)
    return _xref_entries(data, sections, w0, w1, w2)


def _field(data: bytes, at: int, width: int) -> int:
    # pyHanko converts widths up to 8 as a *signed* 64-bit number: keep that
    return int.from_bytes(data[at : at + width], "big", signed=width == 8)


def _xref_entries(
    data: bytes, sections: list[tuple[int, int]], w0: int, w1: int, w2: int
) -> Iterator[Any]:
    standard, in_stream, free = (
        xref.XRefType.STANDARD,
        xref.XRefType.IN_OBJ_STREAM,
        xref.XRefType.FREE,
    )
    entry, stream_ref = xref.XRefEntry, xref.ObjStreamRef
    at = 0
    for start, size in sections:
        for num in range(start, start + size):
            kind = _field(data, at, w0) if w0 else 1
            second = _field(data, at + w0, w1) if w1 else 0
            third = _field(data, at + w0 + w1, w2) if w2 else 0
            at += w0 + w1 + w2
            if kind == 1:
                yield entry(xref_type=standard, idnum=num, location=second, generation=third)
            elif kind == 2:
                yield entry(xref_type=in_stream, idnum=num, location=stream_ref(second, third))
            elif kind == 0:
                yield entry(xref_type=free, idnum=num, generation=third, location=None)
            # any other type: ignored, as pyHanko does


_original_parse_xref_stream = xref.parse_xref_stream


def install() -> None:
    """Install the speed-ups (once per process)."""
    global _installed
    if _installed:
        return
    generic.read_hex_string_from_stream = read_hex_string
    generic.read_until_delimiter = read_until_delimiter  # type: ignore[attr-defined]
    generic._decode_name = decode_name
    xref.parse_xref_stream = parse_xref_stream
    generic_cms.extract_certs_for_validation = extract_certs_for_validation
    generic._read_string_literal_bytes = read_string_literal
    x509.Name.__eq__ = name_equal
    general.extract_certificate_info = extract_certificate_info
    generic_cms.extract_certificate_info = extract_certificate_info  # type: ignore[attr-defined]
    PdfFileReader._get_object_from_stream = get_object_from_stream  # type: ignore[method-assign]
    original_prep = x509.NameTypeAndValue._ldap_string_prep
    cached = functools.lru_cache(maxsize=4096)(lambda string: original_prep(None, string))

    def _prep(self: Any, string: str) -> str:
        return str(cached(string))

    x509.NameTypeAndValue._ldap_string_prep = _prep
    _installed = True
