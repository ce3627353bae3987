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

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from service.store.tables import AuditEntry, AuditHead

GENESIS = "0" * 64


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
    session: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    address: str = "",
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        ensure_head(session)
        session.flush()
        head = session.get(AuditHead, 1)
        assert head is not None
    at = datetime.now(UTC)
    details_json = json.dumps(
        dict(details or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )
    seq = head.seq + 1
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        address=address or "",
        details=details_json,
        prev_hash=head.hash,
        hash=_digest(seq, at, actor, action, target, address or "", details_json, head.hash),
    )
    session.add(entry)
    head.seq, head.hash = seq, entry.hash
    return entry


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
