"""The recipient's feed: documents received from the peer, in order of receipt.

The cursor is opaque to clients (``v1.<seq>`` in URL-safe base64): the position after an
item, stable across restarts and unaffected by later arrivals — no offsets.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from service.errors import InputError, Violation
from service.store.db import Database
from service.store.exchange_tables import Incoming
from service.store.tables import StoredDocument

MAX_LIMIT = 500


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"v1.{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The receipt sequence a cursor points after; 0 for none; 400 for a bad one."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(".")
        if prefix != "v1" or not seq.isdigit():
            raise ValueError(cursor)
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError(
            "invalid inbox cursor", (Violation(None, "after", "use a cursor from `next`"),)
        ) from None


@dataclass(frozen=True)
class InboxItem:
    incoming: Incoming
    document: StoredDocument


def page(database: Database, authority: str, after: int, limit: int) -> Sequence[InboxItem]:
    """Up to ``limit`` documents received for ``authority`` after receipt ``after``."""
    query = (
        select(Incoming, StoredDocument)
        .join(StoredDocument, StoredDocument.id == Incoming.document_id)
        .where(Incoming.recipient == authority, Incoming.seq > after)
        .order_by(Incoming.seq)
        .limit(min(max(limit, 1), MAX_LIMIT))
    )
    with database.reading() as session:
        return [InboxItem(i, d) for i, d in session.execute(query).tuples().all()]
