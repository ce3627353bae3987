"""Universal Signature Forgery (Mladenov et al. 2019): the signature dictionary made
unverifiable — ``/Contents`` or ``/ByteRange`` removed, emptied, ``null``, zeroed,
malformed, pointing outside the file or over the signature itself, another
``/SubFilter`` — alone and together with a forged page appended in an update.

A viewer that cannot check a signature must not call the document signed: every case
answers 200 within the time budget, never TOTAL_PASSED, and ``pdfsig`` agrees it is not
a clean total signature.  Each edit is made in place, padded with spaces, so the file's
cross-reference offsets stay right and only the signature dictionary is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.verification.conftest import Env, Signed
from tests.verification.hostile.conftest import pdfsig_clean, update, verify_api
from tests.verification.hostile.test_wrapping import forge_first_page

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\] *")  # with its padding
_CONTENTS = re.compile(rb"/Contents\s*<[0-9A-Fa-f]*>")


def _in_place(
    pdf: bytes, pattern: re.Pattern[bytes], new: bytes | Callable[[bytes], bytes]
) -> bytes:
    matches = list(pattern.finditer(pdf))
    assert len(matches) == 1, "one signature dictionary expected"
    [m] = matches
    old = m.group(0)
    replacement = new(old) if callable(new) else new
    assert len(replacement) <= len(old)
    return pdf[: m.start()] + replacement.ljust(len(old)) + pdf[m.end() :]


def _ranges(pdf: bytes) -> tuple[int, int, int]:
    m = _BYTE_RANGE.search(pdf)
    assert m is not None
    a, b, c = (int(g) for g in m.groups())
    return a, b, c


def _byte_range(values: Callable[[int, int, int], bytes]) -> Callable[[bytes], bytes]:
    def edit(pdf: bytes) -> bytes:
        return _in_place(pdf, _BYTE_RANGE, b"/ByteRange " + values(*_ranges(pdf)))

    return edit


def _contents(new: bytes | Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    return lambda pdf: _in_place(pdf, _CONTENTS, new)


def _subfilter(pdf: bytes) -> bytes:
    pattern = re.compile(rb"/SubFilter\s*/ETSI\.CAdES\.detached")
    return _in_place(pdf, pattern, b"/SubFilter /adbe.pkcs7.sha1")


USF_EDITS: dict[str, Callable[[bytes], bytes]] = {
    "contents-removed": _contents(b""),
    "contents-empty": _contents(b"/Contents <>"),
    "contents-null": _contents(b"/Contents null"),
    "contents-zeroed": _contents(lambda old: re.sub(rb"[0-9A-Fa-f]", b"0", old)),
    "byterange-removed": lambda pdf: _in_place(pdf, _BYTE_RANGE, b""),
    "byterange-null": lambda pdf: _in_place(pdf, _BYTE_RANGE, b"/ByteRange null"),
    "byterange-empty": lambda pdf: _in_place(pdf, _BYTE_RANGE, b"/ByteRange []"),
    "byterange-three-numbers": _byte_range(lambda a, b, c: b"[0 %d %d]" % (a, b)),
    "byterange-negative": _byte_range(lambda a, b, c: b"[0 -1 %d %d]" % (b, c)),
    "byterange-beyond-eof": _byte_range(lambda a, b, c: b"[0 %d %d %d]" % (a, b, c + 900)),
    "byterange-not-from-zero": _byte_range(lambda a, b, c: b"[1 %d %d %d]" % (a - 1, b, c)),
    "byterange-over-the-signature": _byte_range(lambda a, b, c: b"[0 %d %d %d]" % (b, b, c)),
    "byterange-overlapping": _byte_range(lambda a, b, c: b"[0 %d %d %d]" % (a + 10, a, c + b - a)),
    "byterange-short-first-range": _byte_range(lambda a, b, c: b"[0 %d %d %d]" % (a - 50, b, c)),
    "subfilter-changed": _subfilter,
}


@pytest.mark.parametrize("forge_page", [False, True], ids=["alone", "with-forged-page"])
@pytest.mark.parametrize("name", sorted(USF_EDITS))
def test_universal_signature_forgery_is_never_total_passed(
    sqlite_env: Env, signed: Signed, tmp_path: Path, name: str, forge_page: bool
) -> None:
    forged = USF_EDITS[name](signed.pdf)
    assert forged != signed.pdf
    if forge_page:
        forged = update(forged, forge_first_page)
    report = verify_api(sqlite_env, forged)
    assert report["indication"] != "TOTAL_PASSED", (name, report["sub_indication"])
    assert report["valid"] is False
    assert not pdfsig_clean(forged, tmp_path)
