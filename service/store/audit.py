"""Append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing or
deleting any entry breaks the chain from there on; the single ``audit_head`` row names the
last entry, so deleting the newest entries is detected too.  Appends lock the head row and
therefore happen one at a time, in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from service.store.tables import AuditEntry, AuditHead

GENESIS = "0" * 64
_HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]
# built once: statement construction and cache-key generation dominated the append's CPU time
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_APPEND = insert(_LOG)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_APPEND_AND_MOVE_HEAD = _APPEND.add_cte(_MOVE_HEAD.cte("moved_head"))
"""PostgreSQL: the entry and the head in one statement (a data-modifying ``WITH`` always
runs to completion), one round trip fewer per audited action."""


def _digest(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    address: str,
    details: str,
    prev_hash: str,
) -> str:
    material = json.dumps(
        [
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor,
            action,
            target,
            address,
            details,
            prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def head_query() -> Select[tuple[int, str]]:
    """Last sequence number and hash (a cheap query used by the health check)."""
    return select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)


def ensure_head(session: Session) -> None:
    """Create the head row of an empty log (run by migrations and ``db upgrade``)."""
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))


def record(
    session: Session | Connection,
    *,
    actor: str,
    action: str,
    target: str = "",
    address: str = "",
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry inside the caller's transaction (an ORM session or a connection).

    Core statements rather than ORM objects: an anonymous verification writes one entry
    per request, and the ORM's unit of work cost more than the rest of the append.
    """
    head = session.execute(_LOCK_HEAD).first()
    if head is None:
        session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
        last_seq, prev_hash = 0, GENESIS
    else:
        last_seq, prev_hash = head.seq, head.hash
    at = datetime.now(UTC)
    details_json = json.dumps(
        dict(details or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )
    seq = last_seq + 1
    digest = _digest(seq, at, actor, action, target, address or "", details_json, prev_hash)
    entry = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "address": address or "",
        "details": details_json,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    moved = {"new_seq": seq, "new_hash": digest}
    bind = session if isinstance(session, Connection) else session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(_APPEND_AND_MOVE_HEAD, {**entry, **moved})
    else:
        session.execute(_APPEND, entry)
        session.execute(_MOVE_HEAD, moved)
    return seq


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.message}" if self.seq is not None else self.message


def verify(session: Session) -> tuple[int, list[ChainProblem]]:
    """Walk the whole chain; return the number of entries checked and every problem."""
    problems: list[ChainProblem] = []
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if entry.seq != expected_seq:
            problems.append(
                ChainProblem(entry.seq, f"expected entry {expected_seq} here: entries are missing")
            )
        if entry.prev_hash != expected_prev:
            problems.append(ChainProblem(entry.seq, "does not link to the entry before it"))
        recomputed = _digest(
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.target,
            entry.address,
            entry.details,
            entry.prev_hash,
        )
        if recomputed != entry.hash:
            problems.append(ChainProblem(entry.seq, "content was changed after it was written"))
        expected_prev, expected_seq = entry.hash, entry.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != expected_prev):
        problems.append(
            ChainProblem(
                None,
                f"the log ends at entry {expected_seq - 1} but the "
                f"head names entry {head.seq}: entries were deleted",
            )
        )
    return count, problems
