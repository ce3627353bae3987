"""The hex-string speed-up reads exactly what pyHanko's own reader reads."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.misc import PdfStreamError

from signing import speedups


@pytest.mark.parametrize(
    "raw",
    [b"<48656c6c6f> rest", b"<48 65 6c\n6c 6f>x", b"<4865>", b"<486>", b"<>", b"<ABCDEFabcdef>"],
)
def test_fast_hex_string_matches_pyhanko(raw: bytes) -> None:
    fast, slow = io.BytesIO(raw), io.BytesIO(raw)
    assert speedups.read_hex_string(fast) == speedups._original_read_hex(slow)
    assert fast.tell() == slow.tell()


@pytest.mark.parametrize("raw", [b"<48zz>", b"<4865"])
def test_fast_hex_string_refuses_what_pyhanko_refuses(raw: bytes) -> None:
    with pytest.raises(PdfStreamError):
        speedups._original_read_hex(io.BytesIO(raw))
    with pytest.raises(PdfStreamError):
        speedups.read_hex_string(io.BytesIO(raw))
