# mypy: disallow-untyped-calls=False
"""Behaviour-preserving speed-ups of two hot spots in pyHanko / asn1crypto parsing.

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

:func:`install` is idempotent and called by :mod:`signing.verification` (the package) on import.
"""

from __future__ import annotations

import binascii
import functools
import os
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

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


def install() -> None:
    """Install both speed-ups (once per process)."""
    global _installed
    if _installed:
        return
    generic.read_hex_string_from_stream = read_hex_string
    original_prep = x509.NameTypeAndValue._ldap_string_prep
    cached = functools.lru_cache(maxsize=4096)(lambda string: original_prep(None, string))

    def _prep(self: Any, string: str) -> str:
        return str(cached(string))

    x509.NameTypeAndValue._ldap_string_prep = _prep
    _installed = True
