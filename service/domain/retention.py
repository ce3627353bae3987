"""Retention (Art. 11.5): destroy documents kept longer than their purpose requires.

A document is due when ``created_at + retention_days[type]`` has passed.  Purging deletes
its PDF and XML from storage (the only places that hold personal data), sets
``destroyed_at`` and appends a destruction record to the audit log: id, type,
registration number, both hashes, the dates and who purged.  The row stays, so
verification can still answer "issued by this service, destroyed on DATE".  Purging twice
does nothing the second time; a crash between files and row is repaired by the next run
(deleting a missing file is not an error).

On a node of a Party (issue 11) the node's own ``retention_days`` govern its own copies —
what it issued and what it received (a received copy counts from its receipt) — so each
Party's policy applies on its own node.  A document still waiting for delivery to the
peer is kept until the delivery ends (delivered, refused or failed): destroying it would
lose it for the recipient too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from service.store import audit
from service.store.db import Database
from service.store.exchange_tables import PENDING, Delivery
from service.store.storage import Storage
from service.store.tables import StoredDocument


@dataclass(frozen=True)
class Due:
    """A document whose retention period has ended."""

    id: str
    registration_number: str
    document_type: str
    created_at: datetime
    keep_until: datetime


def retention_for(document_type: str, retention_days: Mapping[str, int]) -> timedelta:
    return timedelta(days=retention_days.get(document_type, retention_days["default"]))


def due(database: Database, retention_days: Mapping[str, int], now: datetime) -> list[Due]:
    """Every document not yet destroyed whose retention has ended at ``now``."""
    with database.reading() as session:
        rows = session.execute(
            select(StoredDocument)
            .where(
                StoredDocument.destroyed_at.is_(None),
                StoredDocument.id.not_in(
                    select(Delivery.document_id).where(Delivery.status == PENDING)
                ),
            )
            .order_by(StoredDocument.created_at)
        ).scalars()
        result = []
        for row in rows:
            keep_until = row.created_at + retention_for(row.document_type, retention_days)
            if keep_until <= now:
                result.append(
                    Due(
                        row.id,
                        row.registration_number,
                        row.document_type,
                        row.created_at,
                        keep_until,
                    )
                )
        return result


def purge(
    database: Database,
    storage: Storage,
    retention_days: Mapping[str, int],
    *,
    actor: str,
    now: datetime | None = None,
) -> list[Due]:
    """Destroy every due document, each in its own audited transaction."""
    now = now or datetime.now(UTC)
    destroyed = []
    for item in due(database, retention_days, now):
        with database.transaction() as session:
            row = session.get(StoredDocument, item.id, with_for_update=True)
            if row is None or row.destroyed_at is not None:
                continue  # another purge got there first
            for suffix in ("pdf", "xml"):
                storage.delete_in(session, f"{row.id}.{suffix}")
            row.destroyed_at = now
            audit.record(
                session,
                actor=actor,
                action="document.destroy",
                target=row.id,
                details={
                    "registration_number": row.registration_number,
                    "document_type": row.document_type,
                    "pdf_sha256": row.pdf_sha256,
                    "xml_sha256": row.xml_sha256,
                    "document_date": row.document_date,
                    "registered_at": row.created_at.isoformat(),
                    "keep_until": item.keep_until.isoformat(),
                    "destroyed_at": now.isoformat(),
                },
            )
        destroyed.append(item)
    return destroyed
