"""``migdocs fsck``: the issuance journal, the document rows and the stored files agree.

What a crash (``kill -9``, power loss, a full disk) can leave behind, and what ``--repair``
does about it:

- a *temporary file* of an unfinished write → deleted;
- a *file without a row* (a void number's signed PDF, a destroyed document's file, an
  unknown file) → deleted, so no signed file outlives the journal's verdict; the files of
  the exchange (receipts, received signatory lists, published and received sample forms)
  belong to their rows, and one younger than ``stuck_after`` is left alone (it is written
  just before its row is committed);
- a number *stuck in issuing* longer than ``stuck_after`` (its process died) → void with
  the reason ``abandoned`` (audited), its files deleted;
- a *row without its file* (also an exchange row's), an issued number without its
  document, a document or a number missing from the journal → reported only: they need a
  person (restore the file from a backup).  Documents received from the peer and their
  incoming numbers («вх. №») are not issued here: the journal does not list them.

The storage is scanned *before* the database is read, so a document being issued while
fsck runs is never mistaken for debris: its journal row was committed before its files
were written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import issuance as journal
from service.domain.documents import registration_number
from service.store.db import Database
from service.store.exchange_tables import (
    Delivery,
    FormPublication,
    Incoming,
    ReceivedForm,
    ReceivedList,
    published_form_key,
    receipt_key,
    received_form_key,
    received_list_key,
)
from service.store.storage import Storage, StoredFile
from service.store.tables import ISSUED, ISSUING, VOID, Issuance, RegistrationCounter, SignatoryList
from service.store.tables import StoredDocument as DocumentRow

INCOMING_PREFIX = "IN:"
"""Counter key prefix of the incoming numbers (:func:`service.domain.documents.next_number`)."""

DEFAULT_STUCK_AFTER = timedelta(minutes=10)
"""Longer than any render may take (gunicorn kills a worker after 120 s)."""

_DOCUMENT_FILE = re.compile(r"([0-9a-f-]{36})\.(pdf|xml)")
_EXCHANGE_FILE = re.compile(
    r"[0-9a-f-]{36}\.receipt\.pdf|received-list-.+\.pdf|(published|received)-form-[0-9a-f]{64}\.pdf"
)
"""Files of the exchange: each is written just *before* its row is committed, so a young one
without a row may be a write in progress (left alone until ``stuck_after``)."""


@dataclass(frozen=True)
class Problem:
    kind: str
    """``temporary-file``, ``file-without-row``, ``stuck-issuing``, ``row-without-file``,
    ``issued-without-document``, ``document-not-in-journal``, ``number-not-in-journal``."""
    subject: str
    message: str
    repaired: bool = False

    def __str__(self) -> str:
        state = "repaired" if self.repaired else "PROBLEM"
        return f"{state:8} {self.kind:24} {self.subject}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    documents: int = 0
    numbers: int = 0

    @property
    def remaining(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    def summary(self) -> str:
        repaired = len(self.problems) - len(self.remaining)
        return (
            f"{self.files} file(s), {self.documents} document(s), {self.numbers} number(s) "
            f"checked: {len(self.remaining)} problem(s), {repaired} repaired"
        )


@dataclass(frozen=True)
class _State:
    """The database as fsck needs it, read in one snapshot after the storage scan."""

    documents: dict[str, DocumentRow]
    journal: dict[str, Issuance]
    list_keys: set[str]
    counters: list[RegistrationCounter]
    exchange_keys: dict[str, str] = field(default_factory=dict)
    """Files of the exchange named by a row → what they are."""
    received: set[str] = field(default_factory=set)
    """Documents received from the peer: numbered by their sender, not in this journal."""


def _exchange_keys(session: Session) -> dict[str, str]:
    """Receipts, received lists, published and received sample forms, by their rows."""
    found: dict[str, str] = {}
    for (document_id,) in session.execute(
        select(Delivery.document_id).where(Delivery.receipt_sha256.is_not(None))
    ):
        found[receipt_key(document_id)] = "receipt of a delivered document"
    for (document_id,) in session.execute(select(Incoming.document_id)):
        found[receipt_key(document_id)] = "receipt of a received document"
    for authority, version in session.execute(select(ReceivedList.authority, ReceivedList.version)):
        found[received_list_key(authority, version)] = "signatory list received from the peer"
    for (sha256,) in session.execute(select(FormPublication.pdf_sha256)):
        found[published_form_key(sha256)] = "sample form published to the peer"
    for (sha256,) in session.execute(select(ReceivedForm.pdf_sha256)):
        found[received_form_key(sha256)] = "sample form received from the peer"
    return found


def _load(session: Session) -> _State:
    return _State(
        documents={d.id: d for d in session.execute(select(DocumentRow)).scalars()},
        journal={i.id: i for i in session.execute(select(Issuance)).scalars()},
        list_keys=set(session.execute(select(SignatoryList.storage_key)).scalars()),
        counters=list(session.execute(select(RegistrationCounter)).scalars()),
        exchange_keys=_exchange_keys(session),
        received=set(session.execute(select(Incoming.document_id)).scalars()),
    )


def check(
    database: Database,
    storage: Storage,
    *,
    repair: bool = False,
    stuck_after: timedelta = DEFAULT_STUCK_AFTER,
    actor: str = "system:fsck",
    now: datetime | None = None,
) -> Report:
    """Compare journal, rows and files; with ``repair`` fix what can be fixed safely."""
    now = now or datetime.now(UTC)
    report = Report()
    if repair:
        report.problems += _void_stuck(database, now - stuck_after, actor)
    files = list(storage.scan())
    with database.reading() as session:
        state = _load(session)
    report.files, report.documents = len(files), len(state.documents)
    report.numbers = len(state.journal)
    if not repair:
        report.problems += _stuck(state, now - stuck_after)
    report.problems += _files(files, state, storage, now - stuck_after, repair)
    report.problems += _rows_without_files(files, state, storage)
    report.problems += _journal(state)
    return report


def _void_stuck(database: Database, before: datetime, actor: str) -> list[Problem]:
    with database.reading() as session:
        stuck = _stuck_rows(session, before)
    problems = []
    for row in stuck:
        with database.transaction() as session:
            voided = journal.void(session, row.id, journal.ABANDONED, actor=actor)
        if voided is not None:
            problems.append(_stuck_problem(row, repaired=True))
    return problems


def _stuck_rows(session: Session, before: datetime) -> list[Issuance]:
    return list(
        session.execute(
            select(Issuance)
            .where(Issuance.status == ISSUING, Issuance.started_at < before)
            .order_by(Issuance.started_at)
        ).scalars()
    )


def _stuck_problem(row: Issuance, repaired: bool) -> Problem:
    verdict = "marked void (abandoned)" if repaired else "run fsck --repair to void it"
    return Problem(
        "stuck-issuing",
        row.registration_number,
        f"issuing since {row.started_at:%Y-%m-%d %H:%M:%S} UTC by {row.worker}; {verdict}",
        repaired,
    )


def _stuck(state: _State, before: datetime) -> list[Problem]:
    return [
        _stuck_problem(row, repaired=False)
        for row in sorted(state.journal.values(), key=lambda r: r.started_at)
        if row.status == ISSUING and row.started_at < before
    ]


def _owner(name: str, state: _State) -> tuple[bool, str]:
    """Whether a stored key belongs to a row, and what it is if it does not."""
    if name in state.list_keys or name in state.exchange_keys:
        return True, ""
    match = _DOCUMENT_FILE.fullmatch(name)
    if match is None:
        return False, "no row names this file"
    stem = match.group(1)
    document = state.documents.get(stem)
    if document is not None:
        if document.destroyed_at is None:
            return True, ""
        return False, f"file of {document.registration_number}, destroyed (retention)"
    issuance = state.journal.get(stem)
    if issuance is None:
        return False, "no document or journal row has this id"
    if issuance.status == ISSUING:
        return True, ""  # being issued right now (or stuck: reported as such)
    return False, f"file of {issuance.status} number {issuance.registration_number}"


def _files(
    files: Iterable[StoredFile],
    state: _State,
    storage: Storage,
    before: datetime,
    repair: bool,
) -> list[Problem]:
    problems = []
    for found in files:
        if found.kind == "temporary":
            if found.modified >= before:
                continue  # a write in progress
            problem = Problem(
                "temporary-file",
                found.name,
                f"unfinished write from {found.modified:%Y-%m-%d %H:%M:%S} UTC",
            )
        elif found.kind == "stray":
            problem = Problem("file-without-row", found.name, "not a storage key")
        else:
            owned, why = _owner(found.name, state)
            if owned or (_EXCHANGE_FILE.fullmatch(found.name) and found.modified >= before):
                continue
            problem = Problem("file-without-row", found.name, why)
        if repair:
            storage.remove(found)
            problem = Problem(problem.kind, problem.subject, problem.message + "; deleted", True)
        problems.append(problem)
    return problems


def _rows_without_files(
    files: Iterable[StoredFile], state: _State, storage: Storage
) -> list[Problem]:
    present = {f.name for f in files if f.kind == "key"}
    problems = []
    for document in state.documents.values():
        if document.destroyed_at is not None:
            continue
        for suffix in ("pdf", "xml"):
            key = f"{document.id}.{suffix}"
            # Stored after the scan began? Ask the storage itself before reporting.
            if key not in present and not storage.exists(key):
                problems.append(
                    Problem(
                        "row-without-file",
                        document.registration_number,
                        f"its {suffix.upper()} ({key}) is missing: restore it from a backup",
                    )
                )
    for key in sorted(state.list_keys):
        if key not in present and not storage.exists(key):
            problems.append(
                Problem("row-without-file", key, "signatory list PDF is missing: regenerate it")
            )
    for key, what in sorted(state.exchange_keys.items()):
        if key not in present and not storage.exists(key):
            problems.append(
                Problem("row-without-file", key, f"{what} is missing: restore it from a backup")
            )
    return problems


def _journal(state: _State) -> list[Problem]:
    problems = []
    for issuance in state.journal.values():
        if issuance.status == ISSUED and issuance.id not in state.documents:
            problems.append(
                Problem(
                    "issued-without-document",
                    issuance.registration_number,
                    "the journal says issued but no document row has this number",
                )
            )
    journaled = {i.id for i in state.journal.values() if i.status == ISSUED}
    for document in state.documents.values():
        if document.id not in journaled and document.id not in state.received:
            problems.append(
                Problem(
                    "document-not-in-journal",
                    document.registration_number,
                    "a stored document without an issued journal row",
                )
            )
    taken: dict[tuple[str, int], set[int]] = {}
    for issuance in state.journal.values():
        if issuance.status in (ISSUING, ISSUED, VOID):
            taken.setdefault((issuance.authority, issuance.reg_year), set()).add(issuance.reg_seq)
    for counter in state.counters:
        if counter.authority.startswith(INCOMING_PREFIX):
            continue  # «вх. №» of received documents: given with the document, no journal
        seen = taken.get((counter.authority, counter.year), set())
        for seq in range(1, counter.last + 1):
            if seq not in seen:
                problems.append(
                    Problem(
                        "number-not-in-journal",
                        registration_number(counter.authority, counter.year, seq),
                        "reserved by the counter but neither issued nor void",
                    )
                )
    return problems
