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
can the document: both wait for the peer).  The refresh-and-send machinery is shared with
the sample forms (:mod:`service.exchange.publishing`, :mod:`service.exchange.forms`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service.domain.signatory_lists import SignatoryLists, storage_key
from service.exchange.publishing import OutboxPublisher, attempt, other_party
from service.pipeline.rendering import default_renderer
from service.store.db import Database
from service.store.exchange_tables import PENDING, ListPublication, Peer, ReceivedList
from service.store.tables import SignatoryList
from signing.api import DocumentSigner, SigningConfig

log = logging.getLogger("migdocs.exchange")

LISTS_PATH = "/peer/v1/lists"
AUTHORITY_HEADER = "X-Migdocs-Authority"
VERSION_HEADER = "X-Migdocs-List-Version"


@dataclass
class ListPublisher(OutboxPublisher):
    _lists: SignatoryLists | None = None

    model = ListPublication

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

    def enqueue_new(self) -> tuple[int, bool]:
        lists = self.lists()
        enqueued = 0
        for authority in self.own_authorities():
            lists.ensure_current(authority)
            enqueued += self._enqueue_newest(authority)
        return enqueued, True

    def _enqueue_newest(self, authority: str) -> int:
        now = datetime.now(UTC)
        try:
            return self._insert_publication(authority, other_party(self.party), now)
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

    def order(self) -> tuple[Any, ...]:
        return (ListPublication.authority, ListPublication.version)

    def send(self, row: ListPublication, peer: Peer, backoff: float) -> None:
        values = attempt(
            self.settings,
            peer,
            LISTS_PATH,
            self.storage.get(storage_key(row.authority, row.version)),
            {AUTHORITY_HEADER: row.authority, VERSION_HEADER: str(row.version)},
            backoff,
        )
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
