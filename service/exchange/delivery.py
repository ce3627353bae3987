"""The delivery worker (``migdocs worker``): outbox rows → the peer node → signed receipts.

Claiming: in one short transaction a worker selects due ``pending`` rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait for each other; on SQLite
the write transaction is ``BEGIN IMMEDIATE`` and therefore exclusive) and moves each row's
``next_attempt_at`` to the end of a lease with a conditional ``UPDATE`` (``WHERE
next_attempt_at = <the value seen>``), counting the attempt.  Nothing is held while
sending.  A worker that dies (``kill -9``) leaves the row ``pending``: it becomes due again
when the lease ends and another worker sends it again — the receiver is idempotent on
(registration number, SHA-256), so it is stored once and the same receipt comes back.

A failed attempt is retried after ``delivery_backoff_seconds · 2^(attempt-1)`` (at most
``delivery_max_backoff_seconds``, ± 25 % jitter so that workers do not retry in step);
after ``delivery_give_up_seconds`` the row is ``failed``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from service.config import Settings
from service.errors import MigdocsError
from service.exchange import transport
from service.exchange.errors import DeliveryFailed, ReceiptInvalid
from service.exchange.forms import FormPublisher
from service.exchange.lists import ListPublisher
from service.exchange.receipts import ACCEPTED, Receipt, check_receipt
from service.exchange.webhooks import WebhookSender
from service.store.db import Database
from service.store.exchange_tables import (
    DELIVERED,
    FAILED,
    PENDING,
    REFUSED,
    Delivery,
    Peer,
    receipt_key,
)
from service.store.storage import Storage
from service.store.tables import Case, StoredDocument

log = logging.getLogger("migdocs.exchange")

DELIVERIES_PATH = "/peer/v1/deliveries"
NUMBER_HEADER = "X-Migdocs-Registration-Number"
SHA256_HEADER = "X-Migdocs-SHA256"


@dataclass(frozen=True)
class Claimed:
    document_id: str
    party: str
    attempts: int
    """Attempts including this one."""
    created_at: datetime
    registration_number: str
    pdf_sha256: str


@dataclass
class DeliveryWorker:
    settings: Settings
    database: Database
    storage: Storage
    rng: random.Random = field(default_factory=random.Random)
    publish_lists: bool = True
    """Send this Party's new signatory lists, then its new signed sample forms, before the
    documents of each round."""
    form_types: tuple[str, ...] | None = None
    """The document types whose sample forms are published (``None``: all of them)."""
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _publisher: ListPublisher | None = None
    _forms: FormPublisher | None = None
    _webhooks: WebhookSender | None = None

    @property
    def publisher(self) -> ListPublisher:
        if self._publisher is None:
            self._publisher = ListPublisher(self.settings, self.database, self.storage)
        return self._publisher

    @property
    def forms(self) -> FormPublisher:
        if self._forms is None:
            self._forms = FormPublisher(self.settings, self.database, self.storage)
            if self.form_types is not None:
                self._forms.types = self.form_types
        return self._forms

    @property
    def webhooks(self) -> WebhookSender:
        if self._webhooks is None:
            self._webhooks = WebhookSender(self.settings, self.database)
        return self._webhooks

    # ----- claiming -------------------------------------------------------------------------

    def claim(self, now: datetime, limit: int = 10) -> list[Claimed]:
        lease = now + timedelta(seconds=self.settings.delivery_lease_seconds)
        claimed: list[Claimed] = []
        with self.database.transaction() as session:
            rows = session.execute(
                select(Delivery, StoredDocument)
                .join(StoredDocument, StoredDocument.id == Delivery.document_id)
                .where(Delivery.status == PENDING, Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Delivery)
            ).tuples()
            for delivery, document in rows.all():
                won = session.execute(
                    update(Delivery)
                    .where(
                        Delivery.document_id == delivery.document_id,
                        Delivery.status == PENDING,
                        Delivery.next_attempt_at == delivery.next_attempt_at,
                    )
                    .values(next_attempt_at=lease, attempts=Delivery.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                claimed.append(
                    Claimed(
                        document_id=delivery.document_id,
                        party=delivery.party,
                        attempts=delivery.attempts + 1,
                        created_at=delivery.created_at,
                        registration_number=document.registration_number,
                        pdf_sha256=document.pdf_sha256,
                    )
                )
        return claimed

    # ----- sending --------------------------------------------------------------------------

    def _context(self, peer: Peer) -> ssl.SSLContext:
        key = f"{peer.party}:{peer.node_cert_sha256}:{hash(peer.trust_roots_pem)}"
        found = self._contexts.get(key)
        if found is None:
            found = transport.client_context(
                self.settings.node_cert, self.settings.node_key, peer.trust_roots_pem
            )
            self._contexts[key] = found
        return found

    def send(self, item: Claimed) -> tuple[Receipt, bytes]:
        """One attempt: POST the signed PDF, check the receipt; :class:`DeliveryFailed`."""
        with self.database.reading() as session:
            peer = session.get(Peer, item.party)
            if peer is not None:
                session.expunge(peer)
        if peer is None:
            raise DeliveryFailed(f"no peer node registered for {item.party}")
        pdf = self.storage.get(f"{item.document_id}.pdf")
        response = transport.post(
            peer.url + DELIVERIES_PATH,
            pdf,
            {
                "Content-Type": "application/pdf",
                NUMBER_HEADER: item.registration_number,
                SHA256_HEADER: item.pdf_sha256,
            },
            self._context(peer),
            timeout=max(5.0, self.settings.delivery_lease_seconds / 2),
        )
        if response.status != 200 or not response.content_type.startswith("application/pdf"):
            raise DeliveryFailed(
                f"peer answered {response.status}: {response.body[:300].decode('utf-8', 'replace')}"
            )
        receipt = check_receipt(
            response.body, peer.trust_roots_pem, item.registration_number, item.pdf_sha256
        )
        if receipt.receiving_party != item.party:
            raise ReceiptInvalid(
                f"the receipt was issued for Party {receipt.receiving_party}, not {item.party}"
            )
        if receipt.outcome != ACCEPTED and receipt.sha256 != item.pdf_sha256:
            raise DeliveryFailed(
                "the peer received altered bytes (SHA-256 "
                f"{receipt.sha256[:12]}…) and refused them: " + "; ".join(receipt.reasons)
            )
        return receipt, response.body

    # ----- recording ------------------------------------------------------------------------

    def _finish(self, item: Claimed, receipt: Receipt, pdf: bytes, now: datetime) -> None:
        self.storage.put(receipt_key(item.document_id), pdf)
        accepted = receipt.outcome == ACCEPTED
        with self.database.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.document_id == item.document_id, Delivery.status == PENDING)
                .values(
                    status=DELIVERED if accepted else REFUSED,
                    finished_at=now,
                    last_error=None if accepted else "; ".join(receipt.reasons),
                    receipt_sha256=hashlib.sha256(pdf).hexdigest(),
                    received_at=receipt.received_at,
                    incoming_number=receipt.incoming_number,
                )
                .execution_options(synchronize_session=False)
            )
            if accepted:  # Art. 10.3: the 30 days run from receipt, the same on both nodes
                session.execute(
                    update(Case)
                    .where(Case.request_id == item.document_id)
                    .values(created_at=receipt.received_at)
                    .execution_options(synchronize_session=False)
                )

    def backoff(self, attempts: int) -> float:
        base = float(self.settings.delivery_backoff_seconds * 2 ** max(attempts - 1, 0))
        capped = min(float(self.settings.delivery_max_backoff_seconds), base)
        return capped * self.rng.uniform(0.75, 1.25)

    def _retry(self, item: Claimed, error: str, now: datetime) -> None:
        give_up = item.created_at + timedelta(seconds=self.settings.delivery_give_up_seconds)
        values: dict[str, object] = {"last_error": error[:2000]}
        if now >= give_up:
            values.update(status=FAILED, finished_at=now)
        else:
            values["next_attempt_at"] = now + timedelta(seconds=self.backoff(item.attempts))
        with self.database.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.document_id == item.document_id, Delivery.status == PENDING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    # ----- loop -----------------------------------------------------------------------------

    def process(self, item: Claimed) -> None:
        try:
            receipt, pdf = self.send(item)
        except MigdocsError as exc:
            log.warning("delivery of %s failed: %s", item.registration_number, exc)
            self._retry(item, str(exc), datetime.now(UTC))
            return
        self._finish(item, receipt, pdf, datetime.now(UTC))

    def run_once(self, now: datetime | None = None, limit: int = 10) -> int:
        """Publish new signatory lists and sample forms, send due webhook deliveries, then
        claim and process the document rows due at ``now`` (default: now); returns how many
        documents."""
        side_tasks: tuple[ListPublisher | FormPublisher | WebhookSender, ...] = (
            (self.publisher, self.forms, self.webhooks) if self.publish_lists else (self.webhooks,)
        )
        for side_task in side_tasks:
            try:
                side_task.run_once(now)
            except Exception:  # never let them stop the documents
                log.exception("%s failed", type(side_task).__name__)
        items = self.claim(now or datetime.now(UTC), limit)
        for item in items:
            self.process(item)
        return len(items)

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Claim one row at a time (a claimed row's lease runs while it waits its turn)."""
        while not stop.is_set():
            if self.run_once(limit=1) == 0:
                stop.wait(poll_seconds)
