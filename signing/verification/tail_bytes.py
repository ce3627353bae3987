# mypy: disallow-untyped-calls=False
"""Bytes of the unsigned tail that pyHanko does not read, but a repairing viewer does.

pyHanko follows ``startxref`` and the ``/Prev`` chain, quietly corrects a ``startxref``
that is a few bytes off, and never looks at an object the cross-reference sections do not
list.  pdf.js and MuPDF rebuild the cross-reference table by scanning the file when it
looks broken and take the *last* definition of every object.  So an update can carry a
forged page that only the viewer sees: an unlisted ``7 0 obj`` plus a ``startxref`` two
bytes off was TOTAL_PASSED while both viewers showed the forgery.

After the last signature's bytes, therefore, the file must be exactly what pyHanko read:
every ``startxref`` where its section starts, one ``%%EOF`` per revision, every object
header at an offset a tail cross-reference section gives for it, written exactly as
``<number> <generation> obj`` for that entry (pyHanko reads ``2 0 obz`` as a header, the
viewers do not and start repairing), every member of a tail object stream listed as
such (MuPDF's repair adopts all of them), and no object number declared twice in one
cross-reference section: pyHanko keeps the *last* of two entries, pdf.js and poppler the
*first*, so a page listed twice — a forged copy first, the genuine one second — was
TOTAL_PASSED while pdf.js showed the forgery.

The search for headers is a superset of the viewers' grammars, and linear: every
``obj`` keyword of the tail (not ``endobj``) whose nearest token before it — past
whitespace and comments, which MuPDF skips — ends in a digit or a point (``7 0 obj``,
``7 0.0 obj``: pdf.js reads the generation as any number, ``0obj``: MuPDF) must be the
keyword of a listed header.  It was a regular expression, which a run of ``%`` or of
digits sent into exponential or quadratic backtracking — one C call that no deadline
interrupts.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import (
    ObjStreamRef,
    XRefSectionType,
    XRefType,
    parse_xref_stream,
    parse_xref_table,
    read_object_header,
)

from .structure import Budget

_EXACT_HEADER = re.compile(rb"(\d+)[ \t\r\n\f\x00]+(\d+)[ \t\r\n\f\x00]+(obj)[\s<\[(/%]")
"""A listed object's header as every reader reads it (no ambiguity: linear)."""
_GAP_BYTES = frozenset(b" \t\r\n\f\x00")
_NUMBER_END = frozenset(b"0123456789.")
"""How the token before a header's ``obj`` ends, in any viewer's grammar."""
_LOOK_BACK = 256
"""How far before an ``obj`` keyword the search for its generation number goes."""
_EOF = re.compile(rb"%%EOF")
_WHITESPACE = b" \t\r\n\f\x00"


def _header_at(pdf: bytes, offset: int) -> int:
    """Where an object header the xref places at ``offset`` really starts (an entry may
    point at whitespace before it)."""
    while offset < len(pdf) and pdf[offset] in _WHITESPACE:
        offset += 1
    return offset


def unread_tail_bytes(
    pdf: bytes, reader: PdfFileReader, tail_start: int, signed_end: int, budget: Budget
) -> tuple[str, ...]:
    """Sentences for what the tail after ``signed_end`` holds beyond the revisions
    ``tail_start + 1 …`` that pyHanko read; empty when the two agree."""
    total = reader.xrefs.total_revisions
    revisions = range(tail_start + 1, total)
    problems: list[str] = []
    listed: set[int] = set()
    for revision in revisions:
        info = reader.xrefs.get_xref_container_info(revision)
        declared = _header_at(pdf, info.declared_startxref)
        # a table's data starts after its "xref" keyword, a stream at its object header
        table = pdf.startswith(b"xref", declared) and info.start_location == declared + 5
        if not table and info.start_location != declared:
            problems.append(
                f"указатель startxref ревизии {revision + 1} не указывает на её таблицу "
                "ссылок (программы просмотра восстанавливают такой файл по-своему)"
            )
        listed.add(_header_at(pdf, info.start_location))
        refs = reader.xrefs.explicit_refs_in_revision(revision)
        budget.tick(len(refs))
        for ref in refs:
            where = reader.xrefs.get_historical_ref(ref, revision)
            if isinstance(where, int):
                listed.add(_header_at(pdf, where))
    markers = len(_EOF.findall(pdf, signed_end))
    if markers != len(revisions):
        problems.append(
            f"после подписанных байтов {markers} маркеров %%EOF на {len(revisions)} "
            "прочитанных ревизий"
        )
    unlisted = _unlisted_headers(pdf, signed_end, _listed_keywords(pdf, listed), budget)
    if unlisted:
        problems.append(
            f"после подписания в файл дописано объектов, не внесённых в таблицы ссылок: "
            f"{unlisted} (программы просмотра, восстанавливающие файл, покажут их)"
        )
    if _declared_twice(pdf, reader, revisions, budget):
        problems.append(
            "таблица ссылок, дописанная после подписания, указывает один и тот же объект "
            "дважды (программы просмотра берут первую запись, проверка — последнюю)"
        )
    if _malformed_headers(pdf, reader, revisions):
        problems.append(
            "заголовок объекта после подписания записан не так, как его читают программы "
            "просмотра (они восстанавливают такой файл по-своему)"
        )
    if _unlisted_members(reader, revisions, budget):
        problems.append(
            "поток объектов, дописанный после подписания, содержит объекты, не внесённые "
            "в таблицы ссылок"
        )
    return tuple(p[0].upper() + p[1:] for p in problems)


def _malformed_headers(pdf: bytes, reader: PdfFileReader, revisions: range) -> bool:
    """A listed object whose header is not exactly ``<number> <generation> obj``."""
    for revision in revisions:
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            where = reader.xrefs.get_historical_ref(ref, revision)
            if not isinstance(where, int):
                continue
            match = _EXACT_HEADER.match(pdf, _header_at(pdf, where))
            if match is None or (int(match[1]), int(match[2])) != (ref.idnum, ref.generation):
                return True
    return False


def _unlisted_members(reader: PdfFileReader, revisions: range, budget: Budget) -> bool:
    """A tail object stream holding an object that its revision does not list as being
    in that stream at that index."""
    for revision in revisions:
        resolver = reader.get_historical_resolver(revision)  # one per revision, not per object
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            if not isinstance(reader.xrefs.get_historical_ref(ref, revision), int):
                continue
            stream = resolver.get_object(ref)
            if not isinstance(stream, generic.StreamObject) or stream.get("/Type") != "/ObjStm":
                continue
            first = int(stream.get("/First", 0))
            numbers = stream.data[:first].split()[0::2]
            budget.tick(len(numbers))
            for index, number in enumerate(numbers):
                where = reader.xrefs.get_historical_ref(generic.Reference(int(number)), revision)
                if not (
                    isinstance(where, ObjStreamRef)
                    and where.obj_stream_id == ref.idnum
                    and where.ix_in_stream == index
                ):
                    return True
    return False


def _listed_keywords(pdf: bytes, listed: Iterable[int]) -> set[int]:
    """Where the ``obj`` keyword of each listed header is (a listed offset whose header is
    not exact has none: :func:`_malformed_headers` names it)."""
    found = set()
    for offset in listed:
        match = _EXACT_HEADER.match(pdf, offset)
        if match is not None:
            found.add(match.start(3))
    return found


def _unlisted_headers(pdf: bytes, start: int, listed: set[int], budget: Budget) -> int:
    """How many ``obj`` keywords after ``start`` a repairing viewer could take for an
    object header that no cross-reference section lists (linear in the tail)."""
    count = 0
    at = pdf.find(b"obj", start)
    while at != -1:
        budget.tick()
        if at not in listed and not pdf.startswith(b"end", at - 3) and _after_number(pdf, at):
            count += 1
        at = pdf.find(b"obj", at + 3)
    return count


def _after_number(pdf: bytes, at: int) -> bool:
    """Whether the nearest token before ``at``, past whitespace and comments, ends like
    a number (bounded look-back: :data:`_LOOK_BACK`)."""
    floor = max(0, at - _LOOK_BACK)
    i = at
    while i > floor:
        if pdf[i - 1] in _GAP_BYTES:
            i -= 1
            continue
        # inside a comment? then everything from its '%' to here is whitespace too
        line = max(pdf.rfind(b"\n", floor, i), pdf.rfind(b"\r", floor, i)) + 1
        percent = pdf.find(b"%", max(line, floor), i)
        if percent != -1:
            i = percent
            continue
        return pdf[i - 1] in _NUMBER_END
    return False


def _declared_twice(pdf: bytes, reader: PdfFileReader, revisions: range, budget: Budget) -> bool:
    """A tail cross-reference section that gives one object number two entries: twice in
    one table or one stream, or in use both in a table and in its hybrid stream (where
    the table marks an object of the stream free, as it should, that is one entry)."""
    for revision in revisions:
        info = reader.xrefs.get_xref_container_info(revision)
        stream = io.BytesIO(pdf)
        stream.seek(info.start_location)
        try:
            if info.xref_section_type == XRefSectionType.STREAM:
                sections = [list(parse_xref_stream(_xref_stream_at(stream, reader), strict=False))]
            else:
                table = list(parse_xref_table(stream, strict=False))
                sections = [table]
                trailer = generic.DictionaryObject.read_from_stream(
                    stream, generic.TrailerReference(reader)
                )
                if "/XRefStm" in trailer:
                    stream.seek(int(trailer.raw_get("/XRefStm")))
                    hybrid = list(parse_xref_stream(_xref_stream_at(stream, reader), strict=False))
                    in_use = [e for e in table + hybrid if e.xref_type != XRefType.FREE]
                    sections += [hybrid, in_use]
        except Exception:  # pyHanko read this section already: failing now means the bytes
            return True  # are not what it read
        for entries in sections:
            budget.tick(len(entries))
            if any(n > 1 for n in Counter(entry.idnum for entry in entries).values()):
                return True
    return False


def _xref_stream_at(stream: io.BytesIO, reader: PdfFileReader) -> generic.StreamObject:
    """The cross-reference stream whose header is at the stream's position (as pyHanko's
    own reader reads it)."""
    idnum, generation = read_object_header(stream, strict=False)
    found = generic.StreamObject.read_from_stream(
        stream, generic.Reference(idnum, generation, pdf=reader)
    )
    if not isinstance(found, generic.StreamObject):
        raise ValueError("not a stream")
    return found
