"""The hex-string speed-up reads exactly what pyHanko's own reader reads."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.misc import PdfStreamError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import ObjStreamRef

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


@pytest.mark.parametrize(
    "raw",
    [
        b"/Type /Page",
        b"/Type/Page",
        b"true]",
        b"null>>",
        b"/A#20B ",
        b"/" + b"x" * 5000 + b" tail",
        b"/" + b"y" * 300,
        b"123 0 R",
        b"",
        b"/\x00",
        b"abc%comment\n",
    ],
)
def test_fast_read_until_delimiter_matches_pyhanko(raw: bytes) -> None:
    fast, slow = io.BytesIO(raw), io.BytesIO(raw)
    fast.read(1)
    slow.read(1)
    assert speedups.read_until_delimiter(fast) == speedups._original_read_until_delimiter(slow)
    assert fast.tell() == slow.tell()


@pytest.mark.parametrize(
    "name",
    [b"Type", b"", b"A#20B", b"ETSI.CAdES.detached", b"a-b_c.d*e!f~", b"\xd0\x90", b"x#4"],
)
def test_fast_name_decoding_matches_pyhanko(name: bytes) -> None:
    try:
        expected: object = speedups._original_decode_name(name)
    except Exception as exc:  # the same refusal, of the same type
        with pytest.raises(type(exc)):
            speedups.decode_name(name)
        return
    decoded = speedups.decode_name(name)
    assert decoded == expected
    assert type(decoded) is type(expected)


@pytest.mark.parametrize("name", [b"a(b", b"a\x7fb", b"a b", b"a/b", b"a%b", b"\xff"])
def test_fast_name_decoding_refuses_what_pyhanko_refuses(name: bytes) -> None:
    with pytest.raises(Exception) as slow:
        speedups._original_decode_name(name)
    with pytest.raises(slow.type):
        speedups.decode_name(name)


def _objects_in_streams(reader: PdfFileReader) -> list[tuple[int, ObjStreamRef]]:
    found = []
    for revision in range(reader.xrefs.total_revisions):
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            marker = reader.xrefs[ref]
            if isinstance(marker, ObjStreamRef):
                found.append((ref.idnum, marker))
    return found


def test_object_stream_reading_matches_pyhanko(unsigned_pdf: bytes) -> None:
    fast = PdfFileReader(io.BytesIO(unsigned_pdf), strict=False)
    slow = PdfFileReader(io.BytesIO(unsigned_pdf), strict=False)
    in_streams = _objects_in_streams(fast)
    assert len(in_streams) > 5  # WeasyPrint writes its small objects into object streams
    for idnum, marker in [*in_streams, *reversed(in_streams)]:
        args = (idnum, marker.obj_stream_id, marker.ix_in_stream)
        expected = speedups._original_get_object_from_stream(slow, *args)
        assert speedups.get_object_from_stream(fast, *args) == expected
        # a wrong index or an object the stream does not hold: pyHanko's own answer
        for bad in ((idnum, marker.obj_stream_id, 10**6), (10**6, marker.obj_stream_id, 0)):
            assert speedups.get_object_from_stream(
                fast, *bad
            ) == speedups._original_get_object_from_stream(slow, *bad)
    headers = vars(fast)[speedups._HEADERS]
    assert headers and all(h is not None for h in headers.values())  # the fast path ran
