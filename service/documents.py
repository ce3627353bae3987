"""Documents as a service: create (validate → render → sign → store), find, list.

Views call these functions; they own the rules:
- an upstream system may only send documents of its own authority (``403`` otherwise);
- the upstream document id makes creation idempotent (same bytes → the stored document;
  different bytes → ``409``);
- the signatory is checked *before* a registration number is taken, and the number is
  taken inside the transaction that stores the document, so numbers stay gap-free;
- a document is visible only to its sender and its recipient; to anyone else it does not
  exist (``404``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lxml import etree
from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing.api import DocumentSigner, SignRequest

from . import audit, cases
from .auth import Principal
from .db import Database
from .errors import Conflict, Forbidden, Gone, NotFound
from .model import Document
from .models import RegistrationCounter, StoredDocument
from .pipeline import intake
from .rendering import FORM_VERSION, Renderer
from .storage import Storage
from .vocabulary import AUTHORITIES


@dataclass(frozen=True)
class Created:
    document: StoredDocument
    created: bool
    """False when the same document had been posted before (idempotent repeat)."""


@dataclass(frozen=True)
class DocumentFilter:
    document_type: str | None = None
    counterpart: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    registration_number: str | None = None
    """Substring of the registration number."""


def registration_number(authority: str, year: int, seq: int) -> str:
    return f"{authority}-{year}-{seq:06d}"


def _next_number(session: Session, authority: str, year: int) -> int:
    """Increment the counter row under a row lock (PostgreSQL) / write lock (SQLite)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(RegistrationCounter)
        .values(authority=authority, year=year, last=0)
        .on_conflict_do_nothing()
    )
    counter = session.execute(
        select(RegistrationCounter)
        .where(RegistrationCounter.authority == authority, RegistrationCounter.year == year)
        .with_for_update()
    ).scalar_one()
    counter.last += 1
    return counter.last


class DocumentService:
    def __init__(
        self,
        database: Database,
        storage: Storage,
        renderer: Renderer,
        signer: DocumentSigner,
        max_xml_bytes: int,
    ) -> None:
        self.database = database
        self.storage = storage
        self.renderer = renderer
        self.signer = signer
        self.max_xml_bytes = max_xml_bytes
        self.on_stored: list[Callable[[Session, StoredDocument], None]] = []
        """Run inside the transaction that stores a document (the exchange's outbox)."""

    # ----- create -------------------------------------------------------------------------

    def parse(self, raw: bytes) -> tuple[Document, etree._Element]:
        """The typed document and its XML root (for line numbers of later checks)."""
        limits = dataclasses.replace(self.renderer.limits, max_xml_bytes=self.max_xml_bytes)
        return intake(raw, self.renderer.printable, limits)

    def _existing(
        self, session: Session, sender: str, upstream_id: str, xml_sha256: str
    ) -> StoredDocument | None:
        found = session.execute(
            select(StoredDocument).where(
                StoredDocument.sender == sender, StoredDocument.upstream_id == upstream_id
            )
        ).scalar_one_or_none()
        if found is not None and found.xml_sha256 != xml_sha256:
            raise Conflict(
                f"document {upstream_id} was already posted with different content "
                f"(registered as {found.registration_number}); send a new documentId"
            )
        return found

    def create(self, raw: bytes, principal: Principal, address: str) -> Created:
        doc, root = self.parse(raw)
        header = doc.header
        if header.sender != principal.authority:
            raise Forbidden(
                f"this API key belongs to {principal.authority} and cannot send documents "
                f"of {header.sender}"
            )
        xml_sha256 = hashlib.sha256(raw).hexdigest()
        with self.database.reading() as session:
            existing = self._existing(session, header.sender, header.document_id, xml_sha256)
        if existing is not None:
            return Created(existing, created=False)
        now = self.signer.signing_time()
        request = SignRequest(
            pdf=b"",
            signatory_id=header.signatory,
            authority=header.sender,
            document_type=doc.document_type,
            signing_time=now,
            block_prerendered=True,
        )
        # Refuse an unauthorised signatory before a registration number is taken.
        self.signer.prepare_block(request, now, None)
        written: list[str] = []
        try:
            with self.database.transaction() as session:
                # Case checks (Art. 8-10) before the number is taken: a refusal consumes none.
                planned = cases.plan(session, doc, root)
                seq = _next_number(session, header.sender, now.year)
                number = registration_number(header.sender, now.year, seq)
                block = self.signer.prepare_block(request, now, number)
                html = self.renderer.html(doc, number, signature=block)
                rendered = self.renderer.pdf(doc, html, raw, number, signature=block)
                signed = self.signer.sign(
                    dataclasses.replace(request, pdf=rendered.pdf, registration_number=number)
                )
                doc_id = str(uuid.uuid4())
                for key, data in ((f"{doc_id}.pdf", signed.pdf), (f"{doc_id}.xml", raw)):
                    self.storage.put(key, data)
                    written.append(key)
                stored = StoredDocument(
                    id=doc_id,
                    upstream_id=header.document_id,
                    document_type=doc.document_type,
                    sender=header.sender,
                    recipient=header.recipient,
                    document_date=header.document_date.isoformat(),
                    registration_number=number,
                    reg_year=now.year,
                    reg_seq=seq,
                    signatory_id=header.signatory,
                    signatory_name=block.full_name,
                    xml_sha256=xml_sha256,
                    pdf_sha256=signed.sha256,
                    pdf_size=len(signed.pdf),
                    page_count=rendered.page_count,
                    form_version=FORM_VERSION,
                    signed_at=signed.signing_time,
                    created_at=datetime.now(UTC),
                )
                session.add(stored)
                session.flush()
                case = cases.attach(session, planned, stored)
                for hook in self.on_stored:
                    hook(session, stored)
                audit.record(
                    session,
                    actor=principal.actor,
                    action="document.create",
                    target=doc_id,
                    address=address,
                    details={
                        "registration_number": number,
                        "document_type": doc.document_type,
                        "pdf_sha256": signed.sha256,
                        "level": signed.level,
                        "case": case.id if case is not None else None,
                    },
                )
        except BaseException as exc:
            # The row was rolled back: remove its files too, so none is left unreferenced.
            for key in written:
                self.storage.delete(key)
            if not isinstance(exc, IntegrityError):
                raise
            # A concurrent request with the same documentId won: answer as a repeat.
            with self.database.reading() as session:
                existing = self._existing(session, header.sender, header.document_id, xml_sha256)
            if existing is None:
                raise
            return Created(existing, created=False)
        return Created(stored, created=True)

    # ----- read ---------------------------------------------------------------------------

    def get(self, session: Session, document_id: str, principal: Principal) -> StoredDocument:
        try:
            uuid.UUID(document_id)
        except ValueError:
            raise NotFound(f"no document {document_id}") from None
        row = session.get(StoredDocument, document_id)
        if row is None or principal.authority not in (row.sender, row.recipient):
            raise NotFound(f"no document {document_id}")
        return row

    def read(
        self, document_id: str, principal: Principal, address: str, what: str
    ) -> tuple[StoredDocument, bytes | None]:
        """Metadata (``what='meta'``) or a file (``pdf``/``xml``), audited."""
        with self.database.transaction() as session:
            row = self.get(session, document_id, principal)
            audit.record(
                session,
                actor=principal.actor,
                action=f"document.read.{what}",
                target=row.id,
                address=address,
                details={"registration_number": row.registration_number},
            )
        if what not in ("pdf", "xml"):
            return row, None
        if row.destroyed_at is not None:
            raise Gone(
                f"document {row.registration_number} was destroyed on "
                f"{row.destroyed_at:%Y-%m-%d} when its retention period ended (Art. 11.5)"
            )
        return row, self.storage.get(f"{row.id}.{what}")

    def list(
        self, principal: Principal, flt: DocumentFilter, page: int, page_size: int
    ) -> tuple[Sequence[StoredDocument], int]:
        mine = or_(
            StoredDocument.sender == principal.authority,
            StoredDocument.recipient == principal.authority,
        )
        query = select(StoredDocument).where(mine)
        if flt.document_type:
            query = query.where(StoredDocument.document_type == flt.document_type)
        if flt.counterpart:
            query = query.where(
                or_(
                    StoredDocument.sender == flt.counterpart,
                    StoredDocument.recipient == flt.counterpart,
                )
            )
        if flt.date_from:
            query = query.where(StoredDocument.document_date >= flt.date_from.isoformat())
        if flt.date_to:
            query = query.where(StoredDocument.document_date <= flt.date_to.isoformat())
        if flt.registration_number:
            escaped = flt.registration_number.replace("\\", "\\\\").replace("%", "\\%")
            query = query.where(
                StoredDocument.registration_number.ilike(
                    f"%{escaped.replace('_', chr(92) + '_')}%", escape="\\"
                )
            )
        with self.database.reading() as session:
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = (
                session.execute(
                    query.order_by(StoredDocument.created_at.desc(), StoredDocument.id)
                    .offset((page - 1) * page_size)
                    .limit(page_size)
                )
                .scalars()
                .all()
            )
        return rows, total


def authority_name(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return authority.name_ru if authority else code
