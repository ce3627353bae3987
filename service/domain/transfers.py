"""Transfers to a third party (Art. 11.3): recorded only with a consent on record.

Kept apart from :mod:`service.domain.cases` because it reads stored documents through
:class:`~service.domain.documents.DocumentService`, which itself depends on cases.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from service.domain.auth import Principal
from service.domain.cases import by_number
from service.domain.documents import DocumentService
from service.errors import InconsistentDocument, InputError, Violation
from service.pipeline.document import Document, ThirdPartyConsent, ThirdPartyConsentRequest
from service.store import audit
from service.store.tables import StoredDocument, Transfer


def normalise_party(name: str) -> str:
    return " ".join(name.split()).casefold()


def record_transfer(
    documents: DocumentService,
    document_id: str,
    third_party: str,
    consent_number: str,
    principal: Principal,
    address: str,
) -> tuple[Transfer, StoredDocument, StoredDocument]:
    """Record that the caller's authority passed a document to a third party.

    Refused (``422``) unless this service holds a ``third-party-consent`` with decision
    ``granted``, sent to the caller's authority by the document's other authority, naming
    the same third party, in reply to a ``third-party-consent-request`` that lists the
    document's registration number.
    """
    if not third_party.strip() or not consent_number.strip():
        raise InputError(
            "third_party and consent_registration_number are required",
            tuple(
                Violation(None, f"/{name}", "required, non-empty string")
                for name, value in (
                    ("third_party", third_party),
                    ("consent_registration_number", consent_number),
                )
                if not value.strip()
            ),
        )
    with documents.database.transaction() as session:
        row = documents.get(session, document_id, principal)
        other = row.recipient if row.sender == principal.authority else row.sender
        number = row.registration_number

        def refuse(reason: str) -> InconsistentDocument:
            return InconsistentDocument(
                f"{number} may not be passed to a third party without a recorded consent "
                f"(Art. 11.3): {reason}",
                (Violation(None, "/consent_registration_number", reason),),
            )

        consent_row = by_number(session, consent_number.strip())
        if (
            consent_row is None
            or consent_row.document_type != "third-party-consent"
            or principal.authority not in (consent_row.sender, consent_row.recipient)
        ):
            raise refuse(f"no third-party consent {consent_number} in this service")
        if consent_row.recipient != principal.authority or consent_row.sender != other:
            raise refuse(f"{consent_number} is not a consent of {other} to {principal.authority}")
        consent = _stored_document(documents, consent_row)
        assert isinstance(consent, ThirdPartyConsent)
        if consent.decision != "granted":
            raise refuse(f"{consent_number} denies the consent")
        if normalise_party(consent.third_party) != normalise_party(third_party):
            raise refuse(f"{consent_number} consents to {consent.third_party!r} only")
        assert consent.in_reply_to is not None
        asked_row = by_number(session, consent.in_reply_to.registration_number)
        if asked_row is None or asked_row.document_type != "third-party-consent-request":
            raise refuse(f"the consent request of {consent_number} is not in this service")
        asked = _stored_document(documents, asked_row)
        assert isinstance(asked, ThirdPartyConsentRequest)
        if number not in {r.registration_number for r in asked.documents}:
            raise refuse(f"the consent request {asked_row.registration_number} does not cover it")
        transfer = Transfer(
            id=str(uuid.uuid4()),
            document_id=row.id,
            consent_id=consent_row.id,
            third_party=third_party.strip(),
            authority=principal.authority,
            recorded_by=principal.actor,
            recorded_at=datetime.now(UTC),
        )
        session.add(transfer)
        session.flush()
        audit.record(
            session,
            actor=principal.actor,
            action="document.transfer",
            target=row.id,
            address=address,
            details={
                "registration_number": number,
                "third_party": transfer.third_party,
                "consent": consent_row.registration_number,
                "transfer": transfer.id,
            },
        )
    return transfer, row, consent_row


def list_transfers(
    documents: DocumentService, document_id: str, principal: Principal, address: str
) -> tuple[StoredDocument, list[tuple[Transfer, StoredDocument]]]:
    """The transfers of a document with their consents, oldest first, audited.

    Both authorities of the document see them: the one that passed it on, and the one
    whose information it is and whose consent the transfer relied on (``404`` to others).
    """
    with documents.database.transaction() as session:
        row = documents.get(session, document_id, principal)
        found = session.execute(
            select(Transfer, StoredDocument)
            .join(StoredDocument, StoredDocument.id == Transfer.consent_id)
            .where(Transfer.document_id == row.id)
            .order_by(Transfer.recorded_at, Transfer.id)
        ).all()
        audit.record(
            session,
            actor=principal.actor,
            action="document.transfers.read",
            target=row.id,
            address=address,
            details={"registration_number": row.registration_number, "count": len(found)},
        )
        return row, [(transfer, consent) for transfer, consent in found]


def _stored_document(documents: DocumentService, row: StoredDocument) -> Document:
    if row.destroyed_at is not None:
        raise InconsistentDocument(f"{row.registration_number} was destroyed (Art. 11.5)")
    doc, _ = documents.parse(documents.storage.get(f"{row.id}.xml"))
    return doc
