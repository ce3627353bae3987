"""Publishing this Party's signed sample forms to the peer node (Art. 9.3, 9.4).

Art. 9.3 has the Parties exchange their sample forms («образцы бланков») with the lists of
signatories, and their changes at once.  The delivery worker calls
:meth:`FormPublisher.run_once` right after the lists (:mod:`service.exchange.lists`) and
before the documents:

1. when the registry changed (the same one small query as the lists), for each document
   type × each authority of this Party, it takes the signed sample form
   (:mod:`service.domain.form_signing`, version
   :data:`~service.pipeline.rendering.FORM_VERSION`) and, if that (type, authority, form
   version, signer) was never queued, stores the PDF (``published-form-<sha256>.pdf``, so
   that every attempt sends the same bytes) and queues a ``pending`` row in
   ``exchange_form_publications``.  "Signer" is the approver key: the person, the version
   of their registry entry, their certificate and the authority's registry version — so a
   new template version, a new head, a renewed certificate or new letterhead requisites
   each publish the forms anew.  An authority with nobody to sign publishes nothing (an
   unsigned form proves nothing to the peer).  At most :data:`RENDERS_PER_ROUND` forms are
   made per round; the rest follow in the next rounds;
2. it sends the due rows (``POST /peer/v1/forms``, the PDF with its type, authority and
   form version in headers) with the documents' back-off — but a form waits while a list
   of its authority is still pending: the peer judges the form's signer by the list, so
   the list that names them goes first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service.domain import forms
from service.domain.form_signing import FormSigning
from service.exchange.lists import AUTHORITY_HEADER
from service.exchange.publishing import OutboxPublisher, attempt, other_party
from service.pipeline.rendering import FORM_VERSION, default_renderer
from service.store.db import Database
from service.store.exchange_tables import (
    PENDING,
    FormPublication,
    ListPublication,
    Peer,
    ReceivedForm,
    published_form_key,
)
from signing.api import DocumentSigner, SigningConfig

log = logging.getLogger("migdocs.exchange")

FORMS_PATH = "/peer/v1/forms"
TYPE_HEADER = "X-Migdocs-Document-Type"
FORM_VERSION_HEADER = "X-Migdocs-Form-Version"
RENDERS_PER_ROUND = 4
"""At most this many forms are rendered and signed per round of the worker (~0.2 s each):
the documents wait behind the round, so the first start (every type × every authority)
is spread over several rounds."""


def publication_key(sha256: str) -> str:
    """Storage key of a published form's PDF."""
    return published_form_key(sha256)


@dataclass
class FormPublisher(OutboxPublisher):
    types: tuple[str, ...] = forms.FORM_TYPES
    """The document types whose forms are published (all of them, but for tests)."""
    _signing: FormSigning | None = None

    model = FormPublication

    def signing(self) -> FormSigning:
        if self._signing is None:
            signer = DocumentSigner(
                self.database.sessions,
                config=SigningConfig(
                    base_url=self.settings.base_url, tsa_url=self.settings.tsa_url
                ),
            )
            self._signing = FormSigning(self.database, signer)
        return self._signing

    # ----- new versions ---------------------------------------------------------------------

    def enqueue_new(self) -> tuple[int, bool]:
        with self.database.reading() as session:
            queued = set(
                session.execute(
                    select(
                        FormPublication.document_type,
                        FormPublication.authority,
                        FormPublication.form_version,
                        FormPublication.signer,
                    )
                ).tuples()
            )
        signing = self.signing()
        renderer = default_renderer()
        enqueued = renders = 0
        for authority in self.own_authorities():
            signer = signing.approver_key(authority)
            for document_type in self.types:
                if (document_type, authority, FORM_VERSION, signer) in queued:
                    continue
                if renders == RENDERS_PER_ROUND:
                    return enqueued, False
                renders += 1
                # Signed afresh, not taken from the process's cache of forms: a cached form
                # may predate the registry entry of its signer (a re-created registry).
                form = signing.render_signed(renderer, document_type, authority)
                if form.signatory_id is None:
                    break  # nobody to sign for the authority: nothing to prove to the peer
                enqueued += self._enqueue(form, signer)
        return enqueued, True

    def _enqueue(self, form: forms.SampleForm, signer: str) -> int:
        assert form.signatory_id is not None
        self.storage.put(publication_key(form.sha256), form.pdf)
        now = datetime.now(UTC)
        peer = other_party(self.party)
        try:
            with self.database.transaction() as session:
                session.add(
                    FormPublication(
                        document_type=form.document_type,
                        authority=form.authority,
                        form_version=form.version,
                        signer=signer,
                        signatory_id=form.signatory_id,
                        pdf_sha256=form.sha256,
                        party=peer,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        except IntegrityError:
            return 0  # another worker queued it meanwhile (the same key: the same file kept)
        log.info(
            "sample form %s of %s v%s queued for %s",
            form.document_type,
            form.authority,
            form.version,
            peer,
        )
        return 1

    # ----- sending --------------------------------------------------------------------------

    def order(self) -> tuple[Any, ...]:
        return (FormPublication.id,)

    def ready(self, due: list[Any]) -> list[Any]:
        """A form waits while a list of its authority is pending (see the module)."""
        if not due:
            return due
        with self.database.reading() as session:
            waiting = set(
                session.execute(
                    select(ListPublication.authority).where(ListPublication.status == PENDING)
                ).scalars()
            )
        return [row for row in due if row.authority not in waiting]

    def send(self, row: FormPublication, peer: Peer, backoff: float) -> None:
        values = attempt(
            self.settings,
            peer,
            FORMS_PATH,
            self.storage.get(publication_key(row.pdf_sha256)),
            {
                TYPE_HEADER: row.document_type,
                AUTHORITY_HEADER: row.authority,
                FORM_VERSION_HEADER: row.form_version,
            },
            backoff,
        )
        with self.database.transaction() as session:
            session.execute(
                update(FormPublication)
                .where(FormPublication.id == row.id, FormPublication.status == PENDING)
                .values(attempts=FormPublication.attempts + 1, **values)
                .execution_options(synchronize_session=False)
            )


def overview(database: Database) -> tuple[list[FormPublication], list[ReceivedForm]]:
    """Every form publication (newest first) and every form received (newest first)."""
    with database.reading() as session:
        sent = list(
            session.execute(
                select(FormPublication).order_by(
                    FormPublication.created_at.desc(), FormPublication.id.desc()
                )
            ).scalars()
        )
        received = list(
            session.execute(
                select(ReceivedForm).order_by(
                    ReceivedForm.received_at.desc(), ReceivedForm.id.desc()
                )
            ).scalars()
        )
        session.expunge_all()
    return sent, received
