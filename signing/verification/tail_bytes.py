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
viewers do not and start repairing), and every member of a tail object stream listed as
such (MuPDF's repair adopts all of them).  The search for headers is a superset of the
viewers' grammars: no look-behind (pdf.js resumes its scan right after ``endobj``), a
sign or leading zeros, comments as whitespace (MuPDF), ``obj`` glued to the generation.
"""

from __future__ import annotations

import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import ObjStreamRef

from .structure import Budget

_GAP = rb"(?:[ \t\r\n\f\x00]|%[^\r\n]*)"
_HEADER = re.compile(rb"[+-]?\d+" + _GAP + rb"+[+-]?\d+" + _GAP + rb"*obj")
"""An object header as any repairing scanner may find one (a superset of their grammars)."""
_EXACT_HEADER = re.compile(rb"(\d+)[ \t\r\n\f\x00]+(\d+)[ \t\r\n\f\x00]+obj[\s<\[(/%]")
"""A listed object's header as every reader reads it."""
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
    unlisted = sum(
        1
        for match in _HEADER.finditer(pdf, signed_end)
        if _header_at(pdf, match.start()) not in listed
    )
    if unlisted:
        problems.append(
            f"после подписания в файл дописано объектов, не внесённых в таблицы ссылок: "
            f"{unlisted} (программы просмотра, восстанавливающие файл, покажут их)"
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
