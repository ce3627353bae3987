"""What the publishers of signatory lists and of sample forms share (Art. 9.3, 9.4).

Both push this Party's signed PDFs to the peer "незамедлительно" through an outbox table
(:class:`service.store.exchange_tables.ListPublication`,
:class:`~service.store.exchange_tables.FormPublication`): a publisher looks at the
registry only when it changed (:meth:`OutboxPublisher.refresh`, one small query), queues
``pending`` rows for what is new, and sends the due rows (:meth:`OutboxPublisher.run_once`)
over mTLS.  The peer's acknowledgement (its received-at) marks a row ``delivered``, a
refusal (``422``/``409``) ``refused`` with the reason; anything else — the peer down, a
``5xx`` — leaves it ``pending`` for another attempt after the worker's back-off.  The
subclasses say what a row is and how it is sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select, text

from service.config import Settings
from service.exchange import transport
from service.exchange.errors import DeliveryFailed, ExchangeUnavailable
from service.store.db import Database
from service.store.exchange_tables import DELIVERED, PENDING, REFUSED, Peer
from service.store.storage import Storage
from signing.registry import Registry

REFRESH_RETRY_SECONDS = 60.0
"""After a failed refresh (a signer's key unusable …), not again before this many seconds."""

_REGISTRY_STATE = text(
    "SELECT (SELECT max(id) FROM signatory_versions), (SELECT count(*) FROM signatory_versions),"
    " (SELECT max(id) FROM authority_versions), (SELECT count(*) FROM authority_versions)"
)


def other_party(party: str) -> str:
    return "BY" if party == "KZ" else "KZ"


@dataclass
class OutboxPublisher:
    """Refresh-then-send over one outbox table; see the module."""

    settings: Settings
    database: Database
    storage: Storage
    _seen: tuple[Any, ...] | None = None
    _retry_at: float = 0.0
    """After a failed refresh, not before this monotonic time."""

    model: ClassVar[Any]
    """The outbox table (columns ``party``, ``status``, ``attempts``, ``next_attempt_at``)."""

    @property
    def party(self) -> str:
        if self.settings.party is None:
            raise ExchangeUnavailable("this node serves no party (setting party is unset)")
        return self.settings.party

    def own_authorities(self) -> list[str]:
        with self.database.reading() as session:
            registry = Registry(session)
            return [
                code
                for code in registry.authority_codes()
                if registry.authority_versions(code)[-1].country == self.party
            ]

    # ----- new versions ---------------------------------------------------------------------

    def enqueue_new(self) -> tuple[int, bool]:
        """Make what changed and queue it: how many rows were queued, and whether that was
        all (``False``: more next round — a publisher may bound its work per round so the
        documents behind it are not held up)."""
        raise NotImplementedError

    def refresh(self, force: bool = False) -> int:
        """Make and enqueue new versions if the registry changed; how many enqueued."""
        with self.database.reading() as session:
            state = tuple(session.execute(_REGISTRY_STATE).one())
        if (state == self._seen or time.monotonic() < self._retry_at) and not force:
            return 0
        try:
            enqueued, complete = self.enqueue_new()
        except Exception:
            self._retry_at = time.monotonic() + REFRESH_RETRY_SECONDS
            raise
        if complete:
            self._seen = state
        return enqueued

    # ----- sending --------------------------------------------------------------------------

    def order(self) -> tuple[Any, ...]:
        """The order the due rows are sent in."""
        raise NotImplementedError

    def ready(self, due: list[Any]) -> list[Any]:
        """The due rows that may go now (all, unless a subclass makes some wait)."""
        return due

    def send(self, row: Any, peer: Peer, backoff: float) -> None:
        """One attempt for one row: :func:`attempt`, then record its values on the row."""
        raise NotImplementedError

    def run_once(self, now: datetime | None = None, backoff: float | None = None) -> int:
        """Refresh, then send the due publications; how many were attempted."""
        self.refresh()
        now = now or datetime.now(UTC)
        model = self.model
        with self.database.reading() as session:
            due = list(
                session.execute(
                    select(model)
                    .where(model.status == PENDING, model.next_attempt_at <= now)
                    .order_by(*self.order())
                ).scalars()
            )
            peers = {p.party: p for p in session.execute(select(Peer)).scalars().all()}
            session.expunge_all()
        due = self.ready(due)
        wait = float(self.settings.delivery_backoff_seconds) if backoff is None else backoff
        for row in due:
            target = peers.get(row.party)
            if target is not None:
                self.send(row, target, wait)
        return len(due)


def attempt(
    settings: Settings,
    peer: Peer,
    path: str,
    pdf: bytes,
    headers: dict[str, str],
    backoff: float,
) -> dict[str, Any]:
    """POST one publication to the peer; the values its outbox row takes."""
    now = datetime.now(UTC)
    try:
        context = transport.client_context(
            settings.node_cert, settings.node_key, peer.trust_roots_pem
        )
        answer = transport.post(
            peer.url + path, pdf, {"Content-Type": "application/pdf", **headers}, context
        )
    except (DeliveryFailed, ExchangeUnavailable) as exc:
        return {"last_error": str(exc)[:2000], "next_attempt_at": now + _delay(backoff)}
    return outcome(answer, now, backoff)


def _delay(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def outcome(answer: transport.PeerResponse, now: datetime, backoff: float) -> dict[str, Any]:
    """The peer's answer as values of the outbox row: delivered, refused or retry."""
    body = answer.body[:2000].decode("utf-8", "replace")
    if answer.status == 200:
        try:
            received_at = datetime.fromisoformat(json.loads(body)["received_at"])
        except (ValueError, KeyError, TypeError):
            return {"last_error": f"unreadable acknowledgement: {body[:300]}"} | {
                "next_attempt_at": now + _delay(backoff)
            }
        return {"status": DELIVERED, "sent_at": now, "received_at": received_at, "last_error": None}
    if answer.status in (409, 422):
        return {"status": REFUSED, "sent_at": now, "last_error": body}
    return {"last_error": f"peer answered {answer.status}: {body[:300]}"} | {
        "next_attempt_at": now + _delay(backoff)
    }
