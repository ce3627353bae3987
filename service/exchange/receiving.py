"""The receiving side of a delivery: verify, number, store, answer with a signed receipt.

Idempotent on (sender's registration number, SHA-256): the same delivery again gets the
same receipt, byte for byte, and stores nothing new.  A delivery that fails any check gets
a signed *negative* receipt listing the reasons, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain import cases
from service.domain.documents import next_number
from service.domain.verification import Verifier
from service.errors import Forbidden, InputError, MigdocsError
from service.exchange import receipts, webhooks
from service.exchange.outbox import party_of
from service.exchange.receipts import ACCEPTED, REFUSED, Receipt
from service.pipeline.document import Document
from service.pipeline.reading import build
from service.pipeline.rendering import Renderer
from service.pipeline.xmlinput import load
from service.store import audit
from service.store.db import Database
from service.store.exchange_tables import Incoming, Peer
from service.store.storage import Storage
from service.store.tables import StoredDocument
from signing.seal import Seal
from signing.verification import CheckStatus, Indication, VerificationReport

SOURCE_XML_NAME = "source.xml"
REGISTRATION_NUMBER = re.compile(r"[A-Z]{2}-[A-Z]+-[0-9]{4}-[0-9]{6}")


@dataclass(frozen=True)
class Declared:
    """What the sending node says it sends (checked, never trusted)."""

    sender_number: str
    sha256: str


@dataclass(frozen=True)
class Answer:
    receipt_pdf: bytes
    outcome: str
    incoming_number: str | None
    repeated: bool = False
    """The same delivery had been received before: its stored receipt."""


@dataclass
class Receiver:
    """Everything the peer endpoint needs (one per app)."""

    party: str
    database: Database
    storage: Storage
    renderer: Renderer
    verifier: Verifier
    seal: Seal

    @property
    def node(self) -> str:
        return f"migdocs {self.party}"

    def receive(self, pdf: bytes, declared: Declared, peer: Peer, actor: str) -> Answer:
        sha256 = hashlib.sha256(pdf).hexdigest()
        previous = self._previous(declared.sender_number, sha256)
        if previous is not None:
            return previous
        received_at = datetime.now(UTC)
        report = self.verifier.verify(pdf)
        doc, root, raw_xml, reasons = self._judge(pdf, sha256, declared, peer, report)
        if doc is None or root is None or raw_xml is None or reasons:
            return self._refuse(declared, sha256, report, received_at, doc, reasons, actor)
        try:
            return self._store(
                pdf, raw_xml, sha256, declared, doc, root, report, received_at, actor
            )
        except (InputError, Forbidden) as exc:  # the case rules (Art. 8-10) refused it
            reason = f"документ не может быть принят в дело: {exc.message}"
            return self._refuse(declared, sha256, report, received_at, doc, [reason], actor)

    def _refuse(
        self,
        declared: Declared,
        sha256: str,
        report: VerificationReport,
        received_at: datetime,
        doc: Document | None,
        reasons: list[str],
        actor: str,
    ) -> Answer:
        receipt = self._receipt(REFUSED, declared, sha256, report, received_at, doc, reasons)
        self._audit_refusal(actor, declared, sha256, reasons)
        pdf_receipt = receipts.make_receipt(self.renderer, self.seal, receipt, self.node)
        return Answer(pdf_receipt, REFUSED, None)

    # ----- checks ---------------------------------------------------------------------------

    def _judge(
        self,
        pdf: bytes,
        sha256: str,
        declared: Declared,
        peer: Peer,
        report: VerificationReport,
    ) -> tuple[Document | None, etree._Element | None, bytes | None, list[str]]:
        reasons: list[str] = []
        if sha256 != declared.sha256:
            reasons.append(
                f"SHA-256 полученных данных {sha256} не совпадает с заявленным "
                f"{declared.sha256}: документ изменён при передаче"
            )
        if report.indication != Indication.TOTAL_PASSED:
            reasons.append(
                f"проверка подписи: {report.indication.value}"
                f"{' / ' + report.sub_indication if report.sub_indication else ''} — "
                f"{report.summary}"
            )
            reasons.extend(
                f"{check.title}: {check.message}"
                for signature in report.signatures
                for check in signature.checks
                if check.status is CheckStatus.FAILED
            )
        if not REGISTRATION_NUMBER.fullmatch(declared.sender_number):
            reasons.append(f"заявленный номер {declared.sender_number!r} не является номером")
        elif report.registration_number != declared.sender_number:
            reasons.append(
                f"регистрационный номер в документе ({report.registration_number or 'нет'}) "
                f"не совпадает с заявленным ({declared.sender_number})"
            )
        raw_xml = receipts.attached_file(pdf, SOURCE_XML_NAME)
        doc, root = None, None
        if raw_xml is None:
            reasons.append("в документе нет исходного XML (source.xml)")
        else:
            try:
                parsed = load(raw_xml, self.verifier.max_xml_bytes)
                doc, root = build(parsed), parsed.root
            except MigdocsError as exc:
                reasons.append(f"исходный XML документа не принят: {exc.message}")
        if doc is not None:
            if party_of(doc.header.sender) != peer.party:
                reasons.append(
                    f"отправитель {doc.header.sender} не относится к Стороне {peer.party}, "
                    "узел которой передал документ"
                )
            if party_of(doc.header.recipient) != self.party:
                reasons.append(
                    f"получатель {doc.header.recipient} не относится к Стороне {self.party}"
                )
        return doc, root, raw_xml, reasons

    def _receipt(
        self,
        outcome: str,
        declared: Declared,
        sha256: str,
        report: VerificationReport,
        received_at: datetime,
        doc: Document | None,
        reasons: list[str],
        incoming_number: str | None = None,
    ) -> Receipt:
        return Receipt(
            outcome=outcome,
            sender_number=declared.sender_number,
            sha256=sha256,
            declared_sha256=declared.sha256,
            received_at=received_at,
            receiving_party=self.party,
            sender=doc.header.sender if doc is not None else "",
            recipient=doc.header.recipient if doc is not None else "",
            indication=report.indication.value,
            sub_indication=report.sub_indication,
            incoming_number=incoming_number,
            reasons=tuple(reasons),
        )

    # ----- storing --------------------------------------------------------------------------

    def _previous(self, sender_number: str, sha256: str) -> Answer | None:
        with self.database.reading() as session:
            row = session.execute(
                select(Incoming).where(
                    Incoming.sender_number == sender_number, Incoming.pdf_sha256 == sha256
                )
            ).scalar_one_or_none()
        if row is None:
            return None
        pdf = self.storage.get(f"{row.document_id}.receipt.pdf")
        return Answer(pdf, ACCEPTED, row.incoming_number, repeated=True)

    def _store(
        self,
        pdf: bytes,
        raw_xml: bytes,
        sha256: str,
        declared: Declared,
        doc: Document,
        root: etree._Element,
        report: VerificationReport,
        received_at: datetime,
        actor: str,
    ) -> Answer:
        doc_id = str(uuid.uuid4())
        header = doc.header
        written: list[str] = []
        try:
            with self.database.transaction() as session:
                # may refuse (Art. 8-10, references)
                planned = cases.plan(session, doc, root, self._load)
                number = incoming_number(session, header.recipient, received_at.year)
                receipt = self._receipt(
                    ACCEPTED, declared, sha256, report, received_at, doc, [], number
                )
                receipt_pdf = receipts.make_receipt(self.renderer, self.seal, receipt, self.node)
                for key, data in (
                    (f"{doc_id}.pdf", pdf),
                    (f"{doc_id}.xml", raw_xml),
                    (f"{doc_id}.receipt.pdf", receipt_pdf),
                ):
                    self.storage.put(key, data)
                    written.append(key)
                stored = _document_row(doc_id, doc, raw_xml, pdf, sha256, declared, report)
                stored.created_at = received_at  # the case's 30 days run from receipt
                session.add(stored)
                session.flush()
                case = cases.attach(session, planned, stored)
                session.add(
                    Incoming(
                        document_id=doc_id,
                        sender_number=declared.sender_number,
                        pdf_sha256=sha256,
                        recipient=header.recipient,
                        incoming_number=number,
                        received_at=received_at,
                        receipt_sha256=hashlib.sha256(receipt_pdf).hexdigest(),
                        indication=report.indication.value,
                    )
                )
                webhooks.enqueue(
                    session,
                    webhooks.EVENT_RECEIVED,
                    doc_id,
                    header.recipient,
                    {"document": _announcement(doc_id, stored, number, received_at)},
                )
                audit.record(
                    session,
                    actor=actor,
                    action="exchange.receive",
                    target=doc_id,
                    details={
                        "registration_number": declared.sender_number,
                        "incoming_number": number,
                        "pdf_sha256": sha256,
                        "case": case.id if case is not None else None,
                    },
                )
        except BaseException as exc:
            for key in written:
                self.storage.delete(key)
            if not isinstance(exc, IntegrityError):
                raise
            # The same delivery arrived concurrently and won: answer with its receipt.
            previous = self._previous(declared.sender_number, sha256)
            if previous is None:
                raise
            return previous
        return Answer(receipt_pdf, ACCEPTED, number)

    def _load(self, row: StoredDocument) -> Document:
        """A stored document read back from its XML (for the case checks)."""
        return build(load(self.storage.get(f"{row.id}.xml")))

    def _audit_refusal(
        self, actor: str, declared: Declared, sha256: str, reasons: list[str]
    ) -> None:
        with self.database.transaction() as session:
            audit.record(
                session,
                actor=actor,
                action="exchange.refuse",
                target=sha256,
                details={"registration_number": declared.sender_number, "reasons": reasons},
            )


def incoming_number(session: Session, recipient: str, year: int) -> str:
    """The next «вх. №» of ``recipient`` for ``year``: gap-free, made unique by the database.

    Uses the registration counters under the key ``IN:<authority>``.
    """
    seq = next_number(session, f"IN:{recipient}", year)
    return f"IN-{recipient}-{year}-{seq:06d}"


def _document_row(
    doc_id: str,
    doc: Document,
    raw_xml: bytes,
    pdf: bytes,
    sha256: str,
    declared: Declared,
    report: VerificationReport,
) -> StoredDocument:
    header = doc.header
    _, year, seq = declared.sender_number.rsplit("-", 2)
    signature = report.signatures[0]
    signed_at = signature.best_signing_time or datetime.now(UTC)
    signatory_name = signature.signatory.full_name_ru if signature.signatory else None
    return StoredDocument(
        id=doc_id,
        upstream_id=header.document_id,
        document_type=doc.document_type,
        sender=header.sender,
        recipient=header.recipient,
        document_date=header.document_date.isoformat(),
        registration_number=declared.sender_number,
        reg_year=int(year),
        reg_seq=int(seq),
        signatory_id=header.signatory,
        signatory_name=signatory_name or header.signatory,
        xml_sha256=hashlib.sha256(raw_xml).hexdigest(),
        pdf_sha256=sha256,
        pdf_size=len(pdf),
        page_count=report.page_count or 0,
        form_version=report.form_version or "",
        signed_at=signed_at,
        created_at=datetime.now(UTC),
    )


def _announcement(
    doc_id: str, stored: StoredDocument, number: str, received_at: datetime
) -> dict[str, object]:
    """What a webhook says about a received document (links relative to the node)."""
    base = f"/api/v1/documents/{doc_id}"
    return {
        "id": doc_id,
        "registration_number": stored.registration_number,
        "incoming_number": number,
        "received_at": received_at.isoformat(),
        "document_type": stored.document_type,
        "sender": stored.sender,
        "recipient": stored.recipient,
        "sha256": stored.pdf_sha256,
        "links": {"self": base, "pdf": f"{base}/pdf", "receipt": f"{base}/receipt"},
    }
