# mypy: disallow-untyped-calls=False
"""Bytes of the unsigned tail that pyHanko does not read, but a repairing viewer does.

pyHanko follows ``startxref`` and the ``/Prev`` chain, quietly corrects a ``startxref``
that is a few bytes off, and never looks at an object the cross-reference sections do not
list.  pdf.js and MuPDF rebuild the cross-reference table by scanning the file when it
looks broken and take the *last* definition of every object.  So an update can carry a
forged page that only the viewer sees: an unlisted ``7 0 obj`` plus a ``startxref`` two
bytes off was TOTAL_PASSED while both viewers showed the forgery.

After the last signature's bytes, therefore, the file must be exactly what pyHanko read:
every ``startxref`` where its section starts, one ``%%EOF`` per revision, and every
object header at an offset a tail cross-reference section gives for it.
"""

from __future__ import annotations

import re

from pyhanko.pdf_utils.reader import PdfFileReader

from .structure import Budget

_HEADER = re.compile(
    rb"(?<![0-9A-Za-z.#+-])\d+[ \t\r\n\f\x00]+\d+[ \t\r\n\f\x00]+obj(?![A-Za-z0-9])"
)
"""An object header as a repairing scanner finds one: anywhere, not only at a line start."""
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
    unlisted = 0
    for match in _HEADER.finditer(pdf, signed_end):
        budget.tick()
        if _header_at(pdf, match.start()) not in listed:
            unlisted += 1
    if unlisted:
        problems.append(
            f"после подписания в файл дописано объектов, не внесённых в таблицы ссылок: "
            f"{unlisted} (программы просмотра, восстанавливающие файл, покажут их)"
        )
    return tuple(p[0].upper() + p[1:] for p in problems)
