"""Resource exhaustion: page and field trees with cycles, deep and broad object graphs,
and a FlateDecode bomb as source.xml.  Every case answers within 10 s, in bounded
memory, with INDETERMINATE / DAMAGED_PDF (never a hang, never a 5xx)."""

from __future__ import annotations

import re
import resource
import time
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from signing.errors import VerificationBudgetExceeded
from signing.verification.document import parser_view
from signing.verification.structure import Budget, page_refs
from tests.verification.conftest import Env, Signed
from tests.verification.hostile.conftest import (
    check,
    demo_signer,
    pdfsig_clean,
    sign,
    update,
    verify_api,
    zip_bomb,
)

N = generic.NameObject


def _damaged(report: dict[str, object], phrase: str) -> None:
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "DAMAGED_PDF")
    assert report["file_kind"] == "damaged_pdf"
    message = check(report["checks"], "file")["message"]  # type: ignore[arg-type]
    assert phrase in message, message


def _pages_root(
    w: IncrementalPdfFileWriter,
) -> tuple[generic.IndirectObject, generic.DictionaryObject]:
    ref = w.root.raw_get("/Pages")
    assert isinstance(ref, generic.IndirectObject)
    return ref, ref.get_object()


def test_page_tree_cycle_is_bounded(sqlite_env: Env, signed: Signed, tmp_path: Path) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        ref, pages = _pages_root(w)
        kids = list(
            pages["/Kids"].get_object() if hasattr(pages["/Kids"], "get_object") else pages["/Kids"]
        )
        raw = [pages["/Kids"].raw_get(i) for i in range(len(kids))]
        pages[N("/Kids")] = generic.ArrayObject([*raw, ref, ref])
        pages[N("/Count")] = generic.NumberObject(4)
        w.update_container(pages)

    forged = update(signed.pdf, attack)
    _damaged(verify_api(sqlite_env, forged), "дерево страниц содержит цикл")
    assert not pdfsig_clean(forged, tmp_path)


def test_broad_diamond_page_graph_is_bounded(sqlite_env: Env, signed: Signed) -> None:
    """40 levels, each node listing the next one twice: 2**40 paths without a visited set."""

    def attack(w: IncrementalPdfFileWriter) -> None:
        _ref, pages = _pages_root(w)
        node = w.find_page_for_modification(0)[0]  # the leaf: page 1
        for _ in range(40):
            node = w.add_object(
                generic.DictionaryObject(
                    {
                        N("/Type"): N("/Pages"),
                        N("/Kids"): generic.ArrayObject([node, node]),
                        N("/Count"): generic.NumberObject(2),
                    }
                )
            )
        pages[N("/Kids")] = generic.ArrayObject([node])
        w.update_container(pages)

    _damaged(verify_api(sqlite_env, update(signed.pdf, attack)), "повторную ссылку")


def test_deep_page_tree_is_bounded(sqlite_env: Env, signed: Signed) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        _ref, pages = _pages_root(w)
        node = w.find_page_for_modification(0)[0]
        for _ in range(3000):
            node = w.add_object(
                generic.DictionaryObject(
                    {
                        N("/Type"): N("/Pages"),
                        N("/Kids"): generic.ArrayObject([node]),
                        N("/Count"): generic.NumberObject(1),
                    }
                )
            )
        pages[N("/Kids")] = generic.ArrayObject([node])
        w.update_container(pages)

    report = verify_api(sqlite_env, update(signed.pdf, attack))
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")


def test_node_budget_stops_a_walk_without_repeats(rendered: bytes) -> None:
    """The walks are bounded even where no node repeats (a node budget, not only a
    visited set)."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(rendered), strict=False)
    assert len(page_refs(reader.root, Budget())) == 2
    with pytest.raises(VerificationBudgetExceeded):
        page_refs(reader.root, Budget(max_nodes=2))


def test_field_tree_cycle_is_bounded(sqlite_env: Env, signed: Signed) -> None:
    def attack(w: IncrementalPdfFileWriter) -> None:
        form = w.root["/AcroForm"]
        field_ref = form["/Fields"].raw_get(0)
        field = field_ref.get_object()
        field[N("/Kids")] = generic.ArrayObject([field_ref])
        w.update_container(field)

    _damaged(verify_api(sqlite_env, update(signed.pdf, attack)), "полей формы")


def _with_bomb(pdf: bytes) -> bytes:
    def attack(w: IncrementalPdfFileWriter) -> None:
        spec = w.root["/AF"][0]
        bomb = generic.StreamObject(
            {
                N("/Type"): N("/EmbeddedFile"),
                N("/Subtype"): N("/text#2Fxml"),
                N("/Filter"): N("/FlateDecode"),
            },
            encoded_data=zip_bomb(),
        )
        ef = spec["/EF"]
        ef[N("/F")] = w.add_object(bomb)
        w.update_container(spec)

    return update(pdf, attack)


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("signed_bomb", [False, True], ids=["unsigned", "signed"])
def test_zip_bomb_source_xml_is_bounded(
    sqlite_env: Env, rendered: bytes, signed_bomb: bool
) -> None:
    """A 256 MiB FlateDecode bomb (~250 KiB on disk) as source.xml: in an unsigned file,
    and inside the signed revision of a file signed by the registered signatory."""
    bombed = _with_bomb(rendered)
    if signed_bomb:
        bombed = sign(bombed, demo_signer(sqlite_env.instance))
    assert len(bombed) < 2 * 1024 * 1024
    before = _max_rss_mib()
    _damaged(verify_api(sqlite_env, bombed), "распаковывается больше")
    assert _max_rss_mib() - before < 100, "decompression was not bounded"


def test_object_stream_bomb_is_bounded_before_the_parser(sqlite_env: Env, signed: Signed) -> None:
    """A FlateDecode bomb as an object stream: pyHanko's parser would inflate it whole."""
    bomb = (
        b"\n9999 0 obj\n<</Type /ObjStm /N 1 /First 4 /Filter /FlateDecode>>\nstream\n"
        + zip_bomb(64 * 1024 * 1024)
        + b"\nendstream\nendobj\n"
    )
    before = _max_rss_mib()
    _damaged(verify_api(sqlite_env, signed.pdf + bomb), "поток объектов PDF")
    assert _max_rss_mib() - before < 100


@pytest.mark.parametrize("filler", [b" ", b"\0", b"\n", b"\r\n", b"%"])
def test_upload_limit_of_bytes_after_eof_is_quick_and_failed(
    sqlite_env: Env, signed: Signed, filler: bytes
) -> None:
    """pyHanko reads a file's tail backwards a byte at a time (24 MiB: ~15 s); a long
    tail gets the verdict of a short one, within the budget."""
    limit = sqlite_env.client.application.config["MAX_CONTENT_LENGTH"]
    tail = filler * ((limit - len(signed.pdf) - 64) // len(filler))
    started = time.perf_counter()
    report = verify_api(sqlite_env, signed.pdf + tail)
    assert time.perf_counter() - started < 5.0
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert f"дописано {len(tail)} байт" in check(report["checks"], "unsigned_bytes")["message"]


def test_large_file_without_eof_marker_is_damaged_at_once(sqlite_env: Env, signed: Signed) -> None:
    body = signed.pdf.replace(b"%%EOF", b"%%EOX") + b" " * 5_000_000
    started = time.perf_counter()
    report = verify_api(sqlite_env, body)
    assert time.perf_counter() - started < 5.0
    _damaged(report, "повреждён")
    assert "EOF marker not found" in str(report["error"])


@pytest.mark.parametrize(
    ("pdf", "view"),
    [
        (b"%PDF-1.7 x %%EOF\n" + b" " * 2000, b"%PDF-1.7 x %%EOF\n"),
        (b"%PDF-1.7 x %%EOF\r\n" + b"\0" * 2000, b"%PDF-1.7 x %%EOF\r\n"),
        (b"%PDF-1.7 x %%EOF" + b"y" * 2000, b"%PDF-1.7 x %%EOF"),
        (b"%PDF-1.7 %%EOF\n" + b" " * 2000 + b"%%EOF\n", None),  # in the window: unchanged
        (b"%PDF-1.7" + b" " * 2000, b""),
    ],
)
def test_parser_view(pdf: bytes, view: bytes | None) -> None:
    if view is None:
        assert parser_view(pdf) is pdf
    elif view == b"":
        assert parser_view(pdf) is None
    else:
        assert parser_view(pdf) == view


def _append_revisions(pdf: bytes, count: int, body: bytes = b"") -> bytes:
    """``count`` incremental updates after ``pdf``, each only a trailer (and ``body``)."""
    root = re.findall(rb"/Root\s+(\d+\s+\d+\s+R)", pdf)[-1]
    size = int(re.findall(rb"/Size\s+(\d+)", pdf)[-1])
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    out = bytearray(pdf)
    for _ in range(count):
        out += body
        at = len(out)
        out += b"xref\n0 0\ntrailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
            size,
            root,
            prev,
            at,
        )
        prev = at
    return bytes(out)


def test_thousands_of_empty_updates_are_refused_at_once(sqlite_env: Env, signed: Signed) -> None:
    """pyHanko's difference analysis grows with the square of the updates (2,000: more
    than ten minutes before the revision limit and the hard deadline)."""
    started = time.perf_counter()
    report = verify_api(sqlite_env, _append_revisions(signed.pdf, 2000))
    assert time.perf_counter() - started < 3.0
    _damaged(report, "ревизий")


def test_parsing_that_never_checks_the_clock_is_cut_by_the_hard_deadline(
    sqlite_env: Env, signed: Signed
) -> None:
    """An object of five million numbers: pyHanko parses it for longer than the budget,
    in a loop of its own; the watchdog interrupts it (one worker, one request)."""
    size = int(re.findall(rb"/Size\s+(\d+)", signed.pdf)[-1])
    root = re.findall(rb"/Root\s+(\d+\s+\d+\s+R)", signed.pdf)[-1]
    prev = int(re.findall(rb"startxref\s+(\d+)", signed.pdf)[-1])
    offset = len(signed.pdf)
    body = b"%d 0 obj\n[" % size + b"1 " * 5_000_000 + b"]\nendobj\n"
    at = offset + len(body)
    forged = (
        signed.pdf
        + body
        + b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %d >>\n"
        % (size, offset, size + 1, root, prev)
        + b"startxref\n%d\n%%%%EOF\n" % at
    )
    report = verify_api(sqlite_env, forged)  # asserts the answer within 10 s
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "DAMAGED_PDF")
    assert "time" in str(report["error"]) or "nodes" in str(report["error"])
