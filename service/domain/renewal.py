"""Renewal of archive timestamps (PAdES B-LTA) of stored documents.

``migdocs timestamps renew [--before DAYS]`` calls :func:`renew_all`: every stored (not
destroyed) document whose newest timestamp's TSA certificate expires within ``DAYS`` (or
whose timestamp uses a weak algorithm) gets revocation data for that timestamp and a new
document timestamp, as an incremental update (earlier signatures and PDF/A untouched).

Safe to run from cron, even twice at once: each document is renewed in its own write
transaction holding the row lock; the stored bytes are re-read and compared with the
row's hash under the lock, so a document renewed meanwhile is skipped (its new
timestamp no longer needs renewal).  Each renewal is audited (``timestamp.renew``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy import select

from service.errors import MigdocsError, NotFound
from service.store import audit
from service.store.db import Database
from service.store.storage import Storage
from service.store.tables import StoredDocument, TimestampRenewal
from signing.archive import async_add_archive_timestamp, needs_renewal, token_signer
from signing.errors import SigningError
from signing.pades import LtvConfig

logger = logging.getLogger(__name__)

DEFAULT_BEFORE_DAYS = 365
"""Renew when the newest TSA certificate expires within a year."""


@dataclass(frozen=True)
class Renewal:
    """What happened to one document."""

    registration_number: str
    outcome: str
    """``renewed``, ``failed`` (message says why) or ``skipped`` (changed meanwhile)."""
    message: str


class RenewalImpossible(MigdocsError):
    code = "renewal_impossible"


def tsa_not_after(timestamper: TimeStamper) -> datetime:
    """When the certificate the TSA signs with now expires (one probe request)."""
    try:
        token = asyncio.run(timestamper.async_dummy_response("sha256"))
    except Exception as exc:  # the TSA is down or answers garbage
        raise RenewalImpossible(f"the TSA did not answer: {type(exc).__name__}: {exc}") from exc
    cert = token_signer(token["content"])
    if cert is None:
        raise RenewalImpossible("the TSA's token does not carry its certificate")
    end: datetime = cert.not_valid_after
    return end


def _candidates(database: Database) -> list[str]:
    with database.reading() as db:
        return list(
            db.execute(
                select(StoredDocument.id)
                .where(StoredDocument.destroyed_at.is_(None))
                .order_by(StoredDocument.created_at)
            ).scalars()
        )


def renew_all(
    database: Database,
    storage: Storage,
    timestamper: TimeStamper,
    ltv: LtvConfig,
    *,
    before_days: int = DEFAULT_BEFORE_DAYS,
    actor: str,
    clock: Callable[[], datetime] | None = None,
) -> list[Renewal]:
    """Renew every stored document that needs it; the others are not touched."""
    now = (clock or (lambda: datetime.now(UTC)))()
    horizon = now + timedelta(days=before_days)
    tsa_end = tsa_not_after(timestamper)
    if tsa_end <= horizon:
        # stamping again with a certificate that ends as soon would extend nothing (and
        # every run would stamp again): the TSA must be renewed first
        raise RenewalImpossible(
            f"the TSA's own certificate expires {tsa_end:%Y-%m-%d}, within the "
            f"{before_days} days asked for: renewing now would extend nothing"
        )
    done: list[Renewal] = []
    for doc_id in _candidates(database):
        # cheap pre-check without the write lock
        with database.reading() as db:
            row = db.get(StoredDocument, doc_id)
            if row is None or row.destroyed_at is not None:
                continue
            number = row.registration_number
        try:
            pdf = storage.get(f"{doc_id}.pdf")
        except (OSError, NotFound) as exc:
            done.append(Renewal(number, "failed", f"stored PDF unreadable: {exc}"))
            continue
        if needs_renewal(pdf, horizon) is None:
            continue
        done.append(_renew_one(database, storage, doc_id, timestamper, ltv, horizon, actor, now))
    return done


def _renew_one(
    database: Database,
    storage: Storage,
    doc_id: str,
    timestamper: TimeStamper,
    ltv: LtvConfig,
    horizon: datetime,
    actor: str,
    now: datetime,
) -> Renewal:
    key = f"{doc_id}.pdf"
    with database.transaction() as db:
        row = db.execute(
            select(StoredDocument).where(StoredDocument.id == doc_id).with_for_update()
        ).scalar_one()
        number = row.registration_number
        pdf = storage.get(key)
        if hashlib.sha256(pdf).hexdigest() != row.pdf_sha256:
            return Renewal(number, "skipped", "stored PDF does not match its recorded hash")
        due = needs_renewal(pdf, horizon)
        if due is None:
            return Renewal(number, "skipped", "renewed meanwhile")
        try:
            renewed = asyncio.run(async_add_archive_timestamp(pdf, timestamper, ltv))
        except SigningError as exc:
            logger.warning("timestamp renewal of %s failed: %s", number, exc.message)
            return Renewal(number, "failed", exc.message)
        digest = hashlib.sha256(renewed).hexdigest()
        db.add(
            TimestampRenewal(
                document_id=doc_id,
                previous_sha256=row.pdf_sha256,
                new_sha256=digest,
                previous_tsa_not_after=due.tsa_not_after,
                renewed_at=now,
            )
        )
        audit.record(
            db,
            actor=actor,
            action="timestamp.renew",
            target=number,
            details={
                "previous_sha256": row.pdf_sha256,
                "new_sha256": digest,
                "previous_tsa": due.tsa_subject,
                "previous_tsa_not_after": due.tsa_not_after.isoformat(),
            },
        )
        row.pdf_sha256 = digest
        row.pdf_size = len(renewed)
        db.flush()
        # the file last, inside the transaction: a failed write rolls the row back; the
        # new bytes only append to the old ones
        storage.put(key, renewed)
    return Renewal(number, "renewed", f"archive timestamp added (was valid to {due.tsa_not_after})")
