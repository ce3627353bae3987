# mypy: disallow-untyped-calls=False
"""Bounded reading of the PDF structure and signature coverage decided from the bytes.

pyHanko is a building block here, not the judge: its coverage check accepts a literal
string ``/Contents`` as long as the file length fits a formula, and its tree walks trust
the file not to loop.  So, before pyHanko sees a signature:

* :class:`Budget` bounds every verification in wall-clock time, graph nodes visited and
  bytes decompressed; every loop over the object graph calls :meth:`Budget.tick`;
* :func:`check_trees` walks the page tree and the form field tree of every revision that
  matters with a visited set: a cycle or a shared node is a damaged file, not a hang;
* :func:`check_byte_range` decides coverage: ``/ByteRange [0 a b c]``, the gap
  ``[a, b)`` exactly one hex-string token ``<…>`` equal to ``/Contents``, and ``b + c``
  the end of a revision; :class:`FileLayout` finds unsigned trailing bytes;
* :func:`signature_fields` lists every signature field, filled or not, supported or not.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from ..errors import MalformedPdfStructure, VerificationBudgetExceeded
from .clip import clip

DEFAULT_SECONDS = 7.0
"""Wall-clock budget of one verification (the service answers well within 10 s)."""
DEFAULT_MAX_NODES = 200_000
"""Object-graph nodes one verification may visit in our own walks."""
DEFAULT_MAX_REVISIONS = 100
"""Incremental updates one file may have.  pyHanko's difference analysis grows with the
square of their number (300 empty updates: ~1 s, 2,000: minutes); the service's own
documents have fewer than ten (signature, validation data, archive timestamps)."""
DEFAULT_MAX_DECODED = 32 * 1024 * 1024
"""Bytes one verification may decompress in the streams it decodes itself."""


def time_exceeded(seconds: float) -> VerificationBudgetExceeded:
    """The error of a verification stopped after ``seconds`` (by the budget or the
    watchdog of :mod:`signing.verification.deadline`)."""
    return VerificationBudgetExceeded(
        f"проверка заняла больше {seconds:g} с и прервана "
        "(файл слишком сложен или построен так, чтобы затянуть проверку)",
        reason="time",
    )


class Budget:
    """Time, node and decompression budget of one verification.

    Exceeding any of them raises :class:`VerificationBudgetExceeded`; the document
    verifier turns that into ``INDETERMINATE`` / ``DAMAGED_PDF`` in one place.
    """

    def __init__(
        self,
        seconds: float = DEFAULT_SECONDS,
        max_nodes: int = DEFAULT_MAX_NODES,
        max_decoded: int = DEFAULT_MAX_DECODED,
    ) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.max_nodes = max_nodes
        self.nodes = 0
        self.decoded_left = max_decoded

    def check_time(self) -> None:
        """Raise when the wall-clock budget is spent."""
        if time.monotonic() > self.deadline:
            raise time_exceeded(self.seconds)

    def tick(self, nodes: int = 1) -> None:
        """Count visited graph nodes; checks the clock every 256 nodes."""
        self.nodes += nodes
        if self.nodes > self.max_nodes:
            raise VerificationBudgetExceeded(
                f"в структуре PDF больше {self.max_nodes} узлов: проверка прервана",
                reason="nodes",
            )
        if self.nodes & 0xFF == 0:
            self.check_time()

    def revisions(self, count: int) -> None:
        """Refuse a file with more than :data:`DEFAULT_MAX_REVISIONS` revisions."""
        if count > DEFAULT_MAX_REVISIONS:
            raise VerificationBudgetExceeded(
                f"в файле {count} ревизий (добавочных обновлений), допустимо не больше "
                f"{DEFAULT_MAX_REVISIONS}: проверка прервана",
                reason="revisions",
            )

    def decoded(self, count: int) -> None:
        """Charge ``count`` decompressed bytes."""
        self.decoded_left -= count
        if self.decoded_left < 0:
            raise VerificationBudgetExceeded(
                "распакованные потоки PDF превышают допустимый объём: проверка прервана",
                reason="decompression",
            )


# --------------------------------------------------------------------------- streams


def get(d: Any, key: str, default: Any = None) -> Any:
    """``d[key]`` dereferenced (pyHanko's ``get`` returns indirect references as is)."""
    value = d.get(key, default) if isinstance(d, generic.DictionaryObject) else default
    return value.get_object() if isinstance(value, generic.IndirectObject) else value


def _filters(stream: generic.StreamObject) -> list[str]:
    value = get(stream, "/Filter")
    if value is None:
        return []
    if isinstance(value, generic.ArrayObject):
        return [str(v) for v in value]
    return [str(value)]


def stream_bytes(stream: Any, budget: Budget, limit: int) -> bytes:
    """Decoded data of ``stream``, at most ``limit`` bytes, charged to ``budget``.

    Only unfiltered and plain ``/FlateDecode`` streams are decoded (that is all the
    metadata and attachments we read use); decompression stops at the limit, so a
    zip bomb costs at most ``limit`` bytes of memory.
    """
    if isinstance(stream, generic.IndirectObject):
        stream = stream.get_object()
    if not isinstance(stream, generic.StreamObject):
        raise MalformedPdfStructure("ожидался поток (stream), найден другой объект")
    raw = stream.encoded_data
    filters = _filters(stream)
    if get(stream, "/DecodeParms") is not None and filters:
        raise MalformedPdfStructure("параметры фильтра потока (/DecodeParms) не поддерживаются")
    if not filters:
        data = bytes(raw)
    elif filters == ["/FlateDecode"]:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise MalformedPdfStructure(f"поток FlateDecode повреждён ({exc})") from exc
    else:
        raise MalformedPdfStructure(f"фильтр потока {'/'.join(filters)} не поддерживается")
    if len(data) > limit:
        raise VerificationBudgetExceeded(
            f"поток распаковывается больше чем в {limit} байт: проверка прервана",
            reason="decompression",
        )
    budget.decoded(len(data))
    return data


_PARSER_STREAM = re.compile(rb"/Type\s*/(?:ObjStm|XRef)\b")
MAX_PARSER_STREAM = 16 * 1024 * 1024
"""Inflated size limit of one object or cross-reference stream."""


def check_parser_streams(pdf: bytes, budget: Budget) -> None:
    """Inflate every object stream and cross-reference stream once, bounded, before
    pyHanko's parser does it unbounded (a FlateDecode bomb there would otherwise cost
    gigabytes).  Only their size is measured; the output is discarded chunk by chunk."""
    for match in _PARSER_STREAM.finditer(pdf):
        budget.tick()
        keyword = pdf.find(b"stream", match.end(), match.end() + 4096)
        if keyword < 0 or b"/FlateDecode" not in pdf[match.start() - 2048 : keyword]:
            continue
        start = keyword + len(b"stream")
        start += 2 if pdf[start : start + 2] == b"\r\n" else 1
        end = pdf.find(b"endstream", start)
        inflater = zlib.decompressobj()
        data, total = pdf[start : end if end > 0 else len(pdf)], 0
        try:
            while data and total <= MAX_PARSER_STREAM:
                total += len(inflater.decompress(data, 1024 * 1024))
                data = inflater.unconsumed_tail
        except zlib.error:
            continue  # pyHanko will report the damaged stream itself
        if total > MAX_PARSER_STREAM:
            raise VerificationBudgetExceeded(
                f"поток объектов PDF распаковывается больше чем в {MAX_PARSER_STREAM} байт: "
                "проверка прервана",
                reason="decompression",
            )
        budget.decoded(total)


# --------------------------------------------------------------------------- trees


def _resolve(value: Any) -> tuple[generic.Reference | None, Any]:
    if isinstance(value, generic.IndirectObject):
        return value.reference, value.get_object()
    return None, value


def page_refs(root: Any, budget: Budget) -> list[generic.Reference]:
    """Page references in page order; a cycle or shared node raises
    :class:`MalformedPdfStructure` (a page *tree* has neither)."""
    result: list[generic.Reference] = []
    seen: set[generic.Reference] = set()
    stack: list[Any] = [root.raw_get("/Pages")]
    while stack:
        budget.tick()
        ref, node = _resolve(stack.pop())
        if ref is not None:
            if ref in seen:
                raise MalformedPdfStructure(
                    f"дерево страниц содержит цикл или повторную ссылку (объект {ref.idnum})"
                )
            seen.add(ref)
        if not isinstance(node, generic.DictionaryObject):
            raise MalformedPdfStructure("узел дерева страниц не является словарём")
        if node.get("/Type") == "/Pages":
            kids = get(node, "/Kids", generic.ArrayObject())
            if not isinstance(kids, generic.ArrayObject):
                raise MalformedPdfStructure("/Kids дерева страниц не является массивом")
            budget.tick(len(kids))
            stack.extend(reversed(list(kids)))  # list() keeps the raw references
        elif ref is not None:
            result.append(ref)
    return result


@dataclass(frozen=True)
class SigField:
    """A signature field: its fully qualified name, reference and value (if filled)."""

    name: str
    ref: generic.Reference
    value: Any
    """The ``/V`` entry as stored (usually an indirect reference), or ``None``."""


def signature_fields(root: Any, budget: Budget) -> list[SigField]:
    """Every signature field of the form, filled or empty, with a global visited set."""
    acroform = get(root, "/AcroForm")
    if not isinstance(acroform, generic.DictionaryObject):
        return []
    fields = get(acroform, "/Fields")
    if not isinstance(fields, generic.ArrayObject):
        return []
    found: list[SigField] = []
    seen: set[generic.Reference] = set()
    stack: list[tuple[Any, str, str | None]] = [(f, "", None) for f in reversed(list(fields))]
    while stack:
        budget.tick()
        item, parent, inherited_ft = stack.pop()
        if not isinstance(item, generic.IndirectObject):
            continue
        ref = item.reference
        if ref in seen:
            raise MalformedPdfStructure(
                f"дерево полей формы содержит цикл или повторную ссылку (объект {ref.idnum})"
            )
        seen.add(ref)
        node = item.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        part = get(node, "/T")
        name = clip(f"{parent}.{part}" if parent and part is not None else str(part or parent))
        ft = get(node, "/FT", inherited_ft)
        if ft == "/Sig" and part is not None:
            found.append(SigField(name, ref, node.raw_get("/V") if "/V" in node else None))
        kids = get(node, "/Kids")
        if isinstance(kids, generic.ArrayObject):
            budget.tick(len(kids))
            stack.extend((k, name, ft) for k in reversed(list(kids)))
    return found


def check_trees(reader: PdfFileReader, revisions: set[int], budget: Budget) -> None:
    """Walk the page and field trees of the latest revision and of ``revisions``
    (the signed ones) once, so that pyHanko's own walks cannot loop or explode.

    The field tree of the latest revision is not walked here: the document verifier
    has just listed its signature fields with :func:`signature_fields`, the same walk.
    """
    latest = reader.xrefs.total_revisions - 1
    page_refs(reader.root, budget)
    for revision in sorted(revisions):
        if revision < latest:
            root = reader.get_historical_resolver(revision).root
            page_refs(root, budget)
            signature_fields(root, budget)


# --------------------------------------------------------------------------- bytes


_EOF = re.compile(rb"%%EOF(?:\r\n|\r|\n)?")
_HEX_TOKEN = re.compile(rb"<[0-9A-Fa-f]*>")
_WHITESPACE = b" \t\r\n\x0c\x00"


@dataclass(frozen=True)
class FileLayout:
    """Where the revisions of the file end, from the bytes."""

    size: int
    revision_ends: tuple[int, ...]
    """Offsets just after each ``%%EOF`` (and its end-of-line)."""

    @classmethod
    def of(cls, pdf: bytes) -> FileLayout:
        return cls(len(pdf), tuple(m.end() for m in _EOF.finditer(pdf)))

    @property
    def trailing(self) -> int:
        """Bytes after the last ``%%EOF``: not part of any revision, never signed."""
        return self.size - (self.revision_ends[-1] if self.revision_ends else 0)

    def trailing_is_whitespace(self, pdf: bytes) -> bool:
        return not pdf[self.size - self.trailing :].strip(_WHITESPACE)


@dataclass(frozen=True)
class Coverage:
    """Our own coverage decision for one signature."""

    ok: bool
    """``/ByteRange`` and ``/Contents`` are well-formed and end at a revision end."""
    coverage: str
    """``ENTIRE_FILE``, ``ENTIRE_REVISION``, ``PARTIAL`` or ``INVALID``."""
    message: str
    """Russian sentence."""
    detail: str | None = None
    signed_end: int = 0
    """Offset where the signed bytes end (``b + c``)."""


def _bad(message: str, detail: str) -> Coverage:
    return Coverage(False, "INVALID", message, detail)


def check_byte_range(pdf: bytes, sig_object: Any, layout: FileLayout) -> Coverage:
    """Coverage from the bytes: ``/ByteRange [0 a b c]``, ``pdf[a:b]`` exactly one hex
    string token equal to ``/Contents``, ``b + c`` the end of a revision."""
    byte_range = get(sig_object, "/ByteRange")
    if not isinstance(byte_range, generic.ArrayObject) or len(byte_range) != 4:
        return _bad("/ByteRange подписи отсутствует или не из четырёх чисел", "bad /ByteRange")
    values = [v for v in byte_range if isinstance(v, int) and not isinstance(v, bool)]
    if len(values) != 4:
        return _bad("/ByteRange подписи содержит не целые числа", "bad /ByteRange")
    start, a, b, c = values
    if start != 0 or not 0 < a < b or c < 0 or b + c > len(pdf):
        return _bad(
            f"/ByteRange [{start} {a} {b} {c}] не описывает файл длиной {len(pdf)} байт",
            "ByteRange out of bounds",
        )
    if not _HEX_TOKEN.fullmatch(pdf, a, b):
        return _bad(
            "Промежуток между частями /ByteRange не является одной шестнадцатеричной строкой "
            "<…>: значение /Contents подменено (атака на обёртку подписи)",
            "gap is not exactly one hex string token",
        )
    hex_digits = pdf[a + 1 : b - 1]
    if len(hex_digits) % 2:
        hex_digits += b"0"
    contents = get(sig_object, "/Contents")
    if not isinstance(contents, bytes) or bytes.fromhex(hex_digits.decode("ascii")) != contents:
        return _bad(
            "Значение /Contents подписи не совпадает с промежутком /ByteRange",
            "/Contents is not the token in the ByteRange gap",
        )
    end = b + c
    if end == len(pdf) and (not layout.revision_ends or layout.revision_ends[-1] == end):
        return Coverage(True, "ENTIRE_FILE", "Подпись охватывает весь файл", signed_end=end)
    if end in layout.revision_ends:
        return Coverage(
            True,
            "ENTIRE_REVISION",
            "Подпись охватывает всю подписанную ревизию; после неё в файл дописаны изменения "
            "(см. «Изменения после подписания»)",
            signed_end=end,
        )
    return Coverage(
        False,
        "PARTIAL",
        "Подпись охватывает только часть файла: подписанные байты не заканчиваются на конце "
        "ревизии",
        f"ByteRange ends at {end}, not at a revision end",
        signed_end=end,
    )


def iter_revisions_after(reader: PdfFileReader, revision: int) -> Iterator[int]:
    """Revision numbers after ``revision`` (0-based, as pyHanko counts them)."""
    yield from range(revision + 1, reader.xrefs.total_revisions)
