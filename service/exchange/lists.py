"""Publishing this Party's signatory lists to the peer node (Art. 9.3, 9.4).

The delivery worker calls :meth:`ListPublisher.run_once` before it delivers documents:

1. if this node's signatory registry changed since it last looked (one small query: the
   highest id and row count of the two version tables), it makes the new list versions of
   its Party's authorities (:meth:`SignatoryLists.ensure_current`, signed PDFs) and writes
   a ``pending`` publication row for each newest signed version not yet published;
2. it sends the due publications to the peer (``POST /peer/v1/lists``) over mTLS, retried
   with the documents' back-off; the peer's acknowledgement (its received-at) marks them
   ``delivered``, a refusal (422/409) ``refused`` with the reason.

Lists go first in every round of the worker, so a document signed by a newly added
signatory does not overtake the list that names them (if the list cannot be sent, neither
can the document: both wait for the peer).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from service.config import Settings
from service.domain.signatory_lists import SignatoryLists, storage_key
from service.exchange import transport
from service.exchange.errors import DeliveryFailed, ExchangeUnavailable
from service.pipeline.rendering import default_renderer
from service.store.db import Database
from service.store.exchange_tables import (
    DELIVERED,
    PENDING,
    REFUSED,
    ListPublication,
    Peer,
    ReceivedList,
)
from service.store.storage import Storage
from service.store.tables import SignatoryList
from signing.api import DocumentSigner, SigningConfig
from signing.registry import Registry

log = logging.getLogger("migdocs.exchange")

LISTS_PATH = "/peer/v1/lists"
REFRESH_RETRY_SECONDS = 60.0
AUTHORITY_HEADER = "X-Migdocs-Authority"
VERSION_HEADER = "X-Migdocs-List-Version"

_REGISTRY_STATE = text(
    "SELECT (SELECT max(id) FROM signatory_versions), (SELECT count(*) FROM signatory_versions),"
    " (SELECT max(id) FROM authority_versions), (SELECT count(*) FROM authority_versions)"
)


@dataclass
class ListPublisher:
    settings: Settings
    database: Database
    storage: Storage
    _lists: SignatoryLists | None = None
    _seen: tuple[Any, ...] | None = None
    _retry_at: float = 0.0
    """After a failed refresh (a signer's key unusable …), not before this monotonic time."""

    @property
    def party(self) -> str:
        if self.settings.party is None:
            raise ExchangeUnavailable("this node serves no party (setting party is unset)")
        return self.settings.party

    def lists(self) -> SignatoryLists:
        if self._lists is None:
            signer = DocumentSigner(
                self.database.sessions,
                config=SigningConfig(
                    base_url=self.settings.base_url, tsa_url=self.settings.tsa_url
                ),
            )
            self._lists = SignatoryLists(self.database, self.storage, default_renderer(), signer)
        return self._lists

    # ----- new versions ---------------------------------------------------------------------

    def own_authorities(self) -> list[str]:
        with self.database.reading() as session:
            registry = Registry(session)
            return [
                code
                for code in registry.authority_codes()
                if registry.authority_versions(code)[-1].country == self.party
            ]

    def refresh(self, force: bool = False) -> int:
        """Make and enqueue new list versions if the registry changed; how many enqueued."""
        with self.database.reading() as session:
            state = tuple(session.execute(_REGISTRY_STATE).one())
        if (state == self._seen or time.monotonic() < self._retry_at) and not force:
            return 0
        lists = self.lists()
        enqueued = 0
        try:
            for authority in self.own_authorities():
                lists.ensure_current(authority)
                enqueued += self._enqueue_newest(authority)
        except Exception:
            self._retry_at = time.monotonic() + REFRESH_RETRY_SECONDS
            raise
        self._seen = state
        return enqueued

    def _enqueue_newest(self, authority: str) -> int:
        peer = "BY" if self.party == "KZ" else "KZ"
        now = datetime.now(UTC)
        try:
            return self._insert_publication(authority, peer, now)
        except IntegrityError:
            return 0  # another worker queued it meanwhile

    def _insert_publication(self, authority: str, peer: str, now: datetime) -> int:
        with self.database.transaction() as session:
            newest = session.execute(
                select(SignatoryList)
                .where(SignatoryList.authority == authority)
                .order_by(SignatoryList.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            if newest is None or newest.signatory_id is None:
                return 0  # an unsigned list (nobody authorised) proves nothing to the peer
            if session.get(ListPublication, (authority, newest.version)) is not None:
                return 0
            session.add(
                ListPublication(
                    authority=authority,
                    version=newest.version,
                    party=peer,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        log.info("signatory list %s v%d queued for %s", authority, newest.version, peer)
        return 1

    # ----- sending --------------------------------------------------------------------------

    def _send(self, row: ListPublication, peer: Peer, backoff: float) -> None:
        pdf = self.storage.get(storage_key(row.authority, row.version))
        now = datetime.now(UTC)
        values: dict[str, Any]
        try:
            context = transport.client_context(
                self.settings.node_cert, self.settings.node_key, peer.trust_roots_pem
            )
            answer = transport.post(
                peer.url + LISTS_PATH,
                pdf,
                {
                    "Content-Type": "application/pdf",
                    AUTHORITY_HEADER: row.authority,
                    VERSION_HEADER: str(row.version),
                },
                context,
            )
        except (DeliveryFailed, ExchangeUnavailable) as exc:
            values = {"last_error": str(exc)[:2000], "next_attempt_at": now + _delay(backoff)}
        else:
            values = _outcome(answer, now, backoff)
        with self.database.transaction() as session:
            session.execute(
                update(ListPublication)
                .where(
                    ListPublication.authority == row.authority,
                    ListPublication.version == row.version,
                    ListPublication.status == PENDING,
                )
                .values(attempts=ListPublication.attempts + 1, **values)
                .execution_options(synchronize_session=False)
            )

    def run_once(self, now: datetime | None = None, backoff: float | None = None) -> int:
        """Refresh, then send the due publications; how many were attempted."""
        self.refresh()
        now = now or datetime.now(UTC)
        with self.database.reading() as session:
            due = (
                session.execute(
                    select(ListPublication)
                    .where(
                        ListPublication.status == PENDING, ListPublication.next_attempt_at <= now
                    )
                    .order_by(ListPublication.authority, ListPublication.version)
                )
                .scalars()
                .all()
            )
            peers = {p.party: p for p in session.execute(select(Peer)).scalars().all()}
            for row in due:
                session.expunge(row)
            for known in peers.values():
                session.expunge(known)
        wait = float(self.settings.delivery_backoff_seconds) if backoff is None else backoff
        for row in due:
            target = peers.get(row.party)
            if target is not None:
                self._send(row, target, wait)
        return len(due)


def _delay(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _outcome(answer: transport.PeerResponse, now: datetime, backoff: float) -> dict[str, Any]:
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


def overview(database: Database) -> tuple[list[ListPublication], list[ReceivedList]]:
    """Every publication sent (newest first) and every version received (newest first)."""
    with database.reading() as session:
        sent = list(
            session.execute(
                select(ListPublication).order_by(
                    ListPublication.created_at.desc(), ListPublication.authority
                )
            ).scalars()
        )
        received = list(
            session.execute(
                select(ReceivedList).order_by(
                    ReceivedList.received_at.desc(), ReceivedList.authority
                )
            ).scalars()
        )
        session.expunge_all()
    return sent, received
