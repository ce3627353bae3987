"""The ``delivery`` part of a document's metadata (outgoing state or incoming receipt),
used by the documents API and by the exchange's own views."""

from __future__ import annotations

from typing import Any

from flask import url_for

from service.store.exchange_tables import Delivery, Incoming
from service.web.context import services


def delivery_json(document_id: str) -> dict[str, Any] | None:
    """``delivery`` of a document's metadata: outgoing state, or the incoming receipt."""
    with services().database.reading() as session:
        out = session.get(Delivery, document_id)
        if out is not None:
            receipt = None
            if out.received_at is not None:
                receipt = {
                    "received_at": out.received_at.isoformat(),
                    "incoming_number": out.incoming_number,
                    "sha256": out.receipt_sha256,
                    "links": {"pdf": url_for("exchange.get_receipt", document_id=document_id)},
                }
            return {
                "direction": "outgoing",
                "party": out.party,
                "status": out.status,
                "attempts": out.attempts,
                "last_error": out.last_error,
                "next_attempt_at": out.next_attempt_at.isoformat(),
                "receipt": receipt,
            }
        incoming = session.execute(
            Incoming.__table__.select().where(Incoming.document_id == document_id)
        ).one_or_none()
        if incoming is not None:
            return {
                "direction": "incoming",
                "status": "received",
                "receipt": {
                    "received_at": incoming.received_at.isoformat(),
                    "incoming_number": incoming.incoming_number,
                    "sha256": incoming.receipt_sha256,
                    "links": {"pdf": url_for("exchange.get_receipt", document_id=document_id)},
                },
            }
    return None
