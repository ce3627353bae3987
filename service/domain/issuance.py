"""The issuance journal: every registration number reserved, and what became of it.

A number moves ``issuing`` → ``issued`` | ``void`` and never back.  Uniqueness is the
database's business (the counter row and the journal's unique constraints), never a
process's memory, so any number of workers and hosts can issue for one authority.  A void
number stays in the journal with its reason and in the audit log; it is never given to
another document.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from service.domain.auth import Principal
from service.errors import Conflict, MigdocsError
from service.store import audit
from service.store.db import Database
from service.store.rows import insert_row
from service.store.tables import ISSUED, ISSUING, VOID, Issuance
from signing.errors import SigningError

log = logging.getLogger("migdocs.journal")

ABANDONED = "abandoned"
"""Reason of a number whose issuing process died (set by ``migdocs fsck --repair``)."""


class StillIssuing(Conflict):
    """The documentId's number is being issued right now (by another request or a
    process that died: then ``migdocs fsck --repair`` voids it); repeat later."""


class IssuanceAbandoned(MigdocsError):
    """The number was declared abandoned (void) while this process was still issuing it."""

    code = "issuance_abandoned"


@dataclass(frozen=True)
class Reservation:
    id: str
    """The journal row's id, also the document's id and its files' storage key stem."""
    seq: int
    number: str


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def live(session: Session, authority: str, upstream_id: str) -> Issuance | None:
    """The issuing or issued journal row of an upstream documentId, if any."""
    return session.execute(
        select(Issuance).where(
            Issuance.authority == authority, Issuance.upstream_claim == upstream_id
        )
    ).scalar_one_or_none()


def reserve(
    session: Session,
    authority: str,
    year: int,
    seq: int,
    number: str,
    upstream_id: str,
    xml_sha256: str,
) -> Reservation:
    """Record ``number`` as ``issuing`` (inserted now, so a duplicate documentId fails here).

    On PostgreSQL the reservation's commit does not wait for its WAL flush
    (``synchronous_commit = off`` for this transaction only): nothing is answered on
    the strength of it, and the commit that issues the number — synchronous — flushes
    the WAL up to itself, reservation included.  A server crash in between loses both the
    reservation and the counter step together, so no issued number is ever given again.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))
    row = Issuance(
        id=str(uuid.uuid4()),
        registration_number=number,
        authority=authority,
        reg_year=year,
        reg_seq=seq,
        upstream_id=upstream_id,
        upstream_claim=upstream_id,
        xml_sha256=xml_sha256,
        status=ISSUING,
        reason=None,
        worker=worker_name(),
        started_at=datetime.now(UTC),
        finished_at=None,
    )
    insert_row(session, row)
    return Reservation(row.id, seq, number)


def _locked(session: Session, issuance_id: str) -> Issuance:
    return session.execute(
        select(Issuance).where(Issuance.id == issuance_id).with_for_update()
    ).scalar_one()


_ISSUANCES: Table = Issuance.__table__  # type: ignore[assignment]
_MARK_ISSUED = (
    update(_ISSUANCES)
    .where(_ISSUANCES.c.id == bindparam("issuance_id"), _ISSUANCES.c.status == ISSUING)
    .values(status=ISSUED, finished_at=bindparam("at"))
)
"""Built once: a Core statement (an ORM ``update`` costs a bulk-update context per POST)."""


def mark_issued(session: Session, issuance_id: str, at: datetime) -> None:
    """Mark the number issued, unless a sweeper declared it abandoned meanwhile (one
    conditional ``UPDATE``; the row is locked by it until the transaction ends)."""
    changed = session.execute(_MARK_ISSUED, {"issuance_id": issuance_id, "at": at})
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        row = session.execute(select(Issuance).where(Issuance.id == issuance_id)).scalar_one()
        raise IssuanceAbandoned(
            f"registration number {row.registration_number} was declared {row.status} "
            f"({row.reason}) while it was being issued; send the document again"
        )


def void(
    session: Session,
    issuance_id: str,
    reason: str,
    *,
    actor: str,
    address: str = "",
) -> Issuance | None:
    """Mark an ``issuing`` number void and audit it; ``None`` if it was no longer issuing."""
    row = _locked(session, issuance_id)
    if row.status != ISSUING:
        return None
    row.status, row.reason, row.finished_at = VOID, reason, datetime.now(UTC)
    row.upstream_claim = None  # the documentId may be sent again, under a new number
    audit.record(
        session,
        actor=actor,
        action="issuance.void",
        target=row.id,
        address=address,
        details={
            "registration_number": row.registration_number,
            "upstream_id": row.upstream_id,
            "reason": reason,
        },
    )
    return row


def failure_reason(exc: BaseException) -> str:
    """A short reason for the journal: our errors' messages, else the exception's type."""
    if isinstance(exc, MigdocsError):
        return f"{exc.code}: {exc.message}"[:1000]
    if isinstance(exc, SigningError):
        return f"{exc.code}: {exc}"[:1000]
    return f"internal error ({type(exc).__name__})"


def void_after_failure(
    database: Database, issuance_id: str, exc: BaseException, principal: Principal, address: str
) -> None:
    """Void the number after ``exc``; if even that fails, ``migdocs fsck`` will find it."""
    try:
        with database.transaction() as session:
            void(session, issuance_id, failure_reason(exc), actor=principal.actor, address=address)
    except Exception:
        log.exception("could not void issuance %s; migdocs fsck will report it", issuance_id)


def void_numbers(session: Session, authority: str, limit: int) -> tuple[Sequence[Issuance], int]:
    """The newest void numbers of ``authority`` and how many there are in all."""
    where = (Issuance.authority == authority, Issuance.status == VOID)
    total = session.execute(select(func.count()).select_from(Issuance).where(*where)).scalar_one()
    rows = (
        session.execute(
            select(Issuance)
            .where(*where)
            .order_by(Issuance.reg_year.desc(), Issuance.reg_seq.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    return rows, total
