"""The transactional outbox: a delivery row written with the document it delivers.

:func:`outbox_hook` returns the callable that :class:`service.domain.documents.DocumentService`
runs inside the transaction that stores a document: if the recipient belongs to the other
Party, a ``pending`` :class:`~.models.Delivery` is added to that same transaction, so a
stored document always has its delivery row and a rolled-back one never has.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy.orm import Session

from service.pipeline.vocabulary import AUTHORITIES
from service.store.exchange_tables import PENDING, Delivery
from service.store.tables import StoredDocument

StoreHook = Callable[[Session, StoredDocument, etree._Element], None]


def party_of(authority: str) -> str | None:
    found = AUTHORITIES.get(authority)
    return found.country if found is not None else None


def needs_delivery(party: str, document: StoredDocument) -> str | None:
    """The Party to deliver ``document`` to, or ``None`` if it stays on this node."""
    sender, recipient = party_of(document.sender), party_of(document.recipient)
    if sender == party and recipient is not None and recipient != party:
        return recipient
    return None


def enqueue(session: Session, document: StoredDocument, party: str) -> Delivery | None:
    """Add the delivery row of ``document`` (if it goes to the other Party) to ``session``."""
    target = needs_delivery(party, document)
    if target is None:
        return None
    now = datetime.now(UTC)
    row = Delivery(
        document_id=document.id,
        party=target,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def outbox_hook(party: str) -> StoreHook:
    def _hook(session: Session, document: StoredDocument, _xml: etree._Element) -> None:
        enqueue(session, document, party)

    return _hook
