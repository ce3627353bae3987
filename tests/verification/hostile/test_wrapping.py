"""Universal Signature Forgery / Signature Wrapping: a literal-string ``/Contents`` with
the length-formula trick, and unsigned bytes appended after the last revision."""

from __future__ import annotations

import re
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.verification.conftest import Env, Signed
from tests.verification.hostile.conftest import (
    check,
    helv,
    pdfsig,
    pdfsig_clean,
    text_stream,
    update,
    verify_api,
)

FORGED = "KZ-MVD-2026-999999"


def forge_first_page(writer: IncrementalPdfFileWriter) -> None:
    page = writer.find_page_for_modification(0)[0].get_object()
    page[generic.NameObject("/Contents")] = writer.add_object(text_stream(FORGED))
    page[generic.NameObject("/Resources")] = helv()
    writer.update_container(page)


def _escape(data: bytes) -> bytes:
    return (
        data.replace(b"\\", b"\\\\")
        .replace(b"(", b"\\(")
        .replace(b")", b"\\)")
        .replace(b"\r", b"\\r")
    )


def literal_contents_wrapping(pdf: bytes) -> bytes:
    """Rewrite ``/Contents`` as a binary literal string, keep ``/ByteRange``, and append
    an update that replaces page 1, sized so that the file length equals
    ``len1 + len2 + 2·len(Contents) + 2`` (the formula pyHanko trusts)."""
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m is not None
    a, b, c = (int(g) for g in m.groups())
    assert b + c == len(pdf)
    cms = bytes.fromhex(pdf[a + 1 : b - 1].decode())
    tail = update(pdf, forge_first_page)[len(pdf) :]
    if len(tail) % 2:
        tail += b"\n"
    contents = cms + bytes(len(tail) // 2)  # DER ignores what follows the ContentInfo
    literal = b"(" + _escape(contents) + b")"
    assert len(literal) <= b - a
    forged = pdf[:a] + literal + b" " * (b - a - len(literal)) + pdf[b:] + tail
    assert len(forged) == a + c + 2 * len(contents) + 2
    return forged


def test_literal_string_contents_with_length_formula_is_format_failure(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    forged = literal_contents_wrapping(signed.pdf)
    report = verify_api(sqlite_env, forged)
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    [sig] = report["signatures"]
    assert "шестнадцатеричной строкой" in check(sig["checks"], "format")["message"]
    assert report["valid"] is False
    assert not pdfsig_clean(forged, tmp_path)


def test_one_appended_byte_is_reported_and_not_total_passed(
    sqlite_env: Env, signed: Signed, tmp_path: Path
) -> None:
    for extra, what in ((b"\n", "пробельных символов"), (b"garbage", "посторонних байт")):
        report = verify_api(sqlite_env, signed.pdf + extra)
        assert (report["indication"], report["sub_indication"]) == (
            "TOTAL_FAILED",
            "FORMAT_FAILURE",
        )
        [sig] = report["signatures"]
        coverage = check(sig["checks"], "coverage")
        assert coverage["status"] == "FAILED"
        assert f"дописано {len(extra)} байт {what}" in coverage["message"]
        # rows never contradict each other: nothing says "не изменялся"
        assert check(sig["checks"], "modifications")["status"] == "FAILED"
        assert all("не изменялся" not in c["message"] for c in sig["checks"])
        assert check(report["checks"], "unsigned_bytes")["status"] == "FAILED"
        assert "Not total document signed" in pdfsig(signed.pdf + extra, tmp_path)
