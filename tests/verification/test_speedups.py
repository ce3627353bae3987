"""The hex-string speed-up reads exactly what pyHanko's own reader reads."""

from __future__ import annotations

import io
import random
import re
from typing import Any

import pytest
from asn1crypto import x509
from certomancer.registry import CertomancerConfig
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import ObjStreamRef

from signing import speedups
from tests.signing.conftest import PKI_DIR


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


_LITERAL_ALPHABET = b"()\\01289nrtbfq\n\r a%"


def _literal_outcome(reader: Any, raw: bytes) -> tuple[Any, int]:
    stream = io.BytesIO(b"xx" + raw)
    stream.seek(2)
    try:
        outcome: Any = ("value", reader(stream))
    except Exception as exc:  # the very same error is expected of both
        outcome = ("error", type(exc).__name__, str(exc))
    return outcome, stream.tell()


@pytest.mark.parametrize(
    "raw",
    [
        b"(abc) rest",
        b"(a(b)c)x",
        b"(a\\)b)",
        b"(\\101\\60\\0601)",
        b"(\\1234)",
        b"(a\\\nb)",
        b"(a\\\r\nb)",
        b"(\\n\\r\\t\\b\\f\\(\\\\)",
        b"(\\q)",
        b"(\\8)",
        b"(\\400)",
        b"(unterminated",
        b"(a\\",
        b"(",
        b"((()))rest",
    ],
)
def test_fast_literal_string_matches_pyhanko(raw: bytes) -> None:
    assert _literal_outcome(speedups.read_string_literal, raw) == _literal_outcome(
        speedups._original_read_literal, raw
    )


def test_fast_literal_string_matches_pyhanko_on_random_strings() -> None:
    rnd = random.Random(20261202)
    fast_path_used = 0
    for _ in range(20_000):
        raw = b"(" + bytes(rnd.choice(_LITERAL_ALPHABET) for _ in range(rnd.randint(0, 14)))
        expected = _literal_outcome(speedups._original_read_literal, raw)
        assert _literal_outcome(speedups.read_string_literal, raw) == expected, raw
        fast_path_used += speedups._literal_from(memoryview(raw), 0) is not None
    assert fast_path_used > 3_000  # the fast path ran, not only the fallback


def test_fast_literal_string_leaves_other_streams_to_pyhanko() -> None:
    class Stream(io.BytesIO):
        pass

    stream = Stream(b"(a\\101) tail")
    assert speedups.read_string_literal(stream) == b"aA"
    assert stream.tell() == 7


@pytest.fixture(scope="module")
def signed_pdf_certificate() -> bytes:
    """A signer's certificate of the test PKI (Cyrillic names, the usual extensions)."""
    config = CertomancerConfig.from_file(
        str(PKI_DIR / "certomancer.yml"), external_url_prefix="http://127.0.0.1:9"
    )
    return bytes(config.get_pki_arch("migdocs").get_cert("signer-other").dump())


def test_name_equality_matches_asn1crypto() -> None:
    ivanov = x509.Name.build({"common_name": "Иванов И.И.", "country_name": "KZ"})
    same = x509.Name.load(ivanov.dump())
    # RFC 5280 comparison: case and spacing differences are equal, different DER
    spaced = x509.Name.build({"common_name": "иванов  и.и.", "country_name": "KZ"})
    other = x509.Name.build({"common_name": "Петров П.П.", "country_name": "KZ"})
    for left, right in [(ivanov, same), (ivanov, spaced), (ivanov, other), (other, same)]:
        assert speedups.name_equal(left, right) == speedups._original_name_eq(left, right)
    assert speedups.name_equal(ivanov, spaced) is True
    assert speedups.name_equal(ivanov, other) is False
    assert speedups.name_equal(ivanov, "Иванов") is False


def test_certificates_are_shared_fully_parsed(signed_pdf_certificate: bytes) -> None:
    first = speedups.shared_certificate(x509.Certificate.load(signed_pdf_certificate))
    second = speedups.shared_certificate(x509.Certificate.load(signed_pdf_certificate))
    assert first is second
    assert first.dump() == signed_pdf_certificate
    assert first._processed_extensions  # parsed before it was shared


def test_certificate_cache_is_bounded(signed_pdf_certificate: bytes) -> None:
    for serial in range(speedups.CERT_CACHE_SIZE + 20):
        cert = x509.Certificate.load(signed_pdf_certificate)
        cert["tbs_certificate"]["serial_number"] = serial + 1
        speedups.shared_certificate(x509.Certificate.load(cert.dump(force=True)))
    assert len(speedups._certificates) == speedups.CERT_CACHE_SIZE


def _xref_outcome(parse: Any, stream: Any) -> Any:
    try:
        return ("entries", list(parse(stream, True)))
    except Exception as exc:  # the very same error is expected of both
        return ("error", type(exc).__name__, str(exc))


def _xref_stream(widths: Any, index: Any, data: bytes) -> Any:
    entries: dict[str, Any] = {"/Type": generic.NameObject("/XRef"), "/Size": 1000}
    if widths is not None:
        entries["/W"] = generic.ArrayObject(generic.NumberObject(w) for w in widths)
    if index is not None:
        entries["/Index"] = generic.ArrayObject(generic.NumberObject(v) for v in index)
    return generic.StreamObject(dict_data=entries, stream_data=data)


def test_xref_stream_parsing_matches_pyhanko_on_random_streams() -> None:
    rng = random.Random(15)
    fast_paths = 0
    for _ in range(3000):
        widths = [rng.choice((0, 1, 2, 3, 4, 8)) for _ in range(rng.choice((3, 3, 3, 2)))]
        sections = [(rng.randrange(0, 50), rng.randrange(0, 6)) for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.8:
            sections.sort()
            sections = [(start + 10 * i, size) for i, (start, size) in enumerate(sections)]
        index = [v for pair in sections for v in pair] if rng.random() < 0.9 else None
        count = sum(size for _, size in sections) if index is not None else 1000
        rows = b"".join(
            bytes([rng.choice((0, 1, 2, 3, 1, 2))]) + rng.randbytes(sum(widths) - 1)
            if widths and widths[0] == 1
            else rng.randbytes(sum(widths))
            for _ in range(count)
        )
        data = (
            rows + rng.randbytes(rng.choice((0, 0, 0, 1, 5))) if rng.random() < 0.9 else rows[:-1]
        )
        if rng.random() < 0.05:
            widths = None
        stream = _xref_stream(widths, index, data)
        expected = _xref_outcome(speedups._original_parse_xref_stream, stream)
        assert _xref_outcome(speedups.parse_xref_stream, stream) == expected, (widths, index)
        fast_paths += speedups._xref_layout(stream) is not None and expected[0] == "entries"
    assert fast_paths > 500  # the fast path itself was compared, not only the fallback


def test_xref_streams_of_a_signed_document_read_alike(foreign_signed_pdf: bytes) -> None:
    pdf = foreign_signed_pdf
    headers = list(re.finditer(rb"\d+ 0 obj\s*<<(?:(?!endobj).)*?/Type\s*/XRef", pdf, re.S))
    assert len(headers) >= 2  # WeasyPrint's revision and the signature's
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    for header in headers:
        source = io.BytesIO(pdf)
        start = pdf.index(b"<<", header.start())
        source.seek(start)
        stream = generic.read_object(source, generic.Reference(1, 0, reader))
        expected = list(speedups._original_parse_xref_stream(stream, True))
        assert len(expected) > 5
        assert speedups._xref_layout(stream) is not None  # the fast path is taken
        assert list(speedups.parse_xref_stream(stream, True)) == expected
