"""Documents as a service: create (validate → render → sign → store), find, list.

Views call these functions; they own the rules:
- an upstream system may only send documents of its own authority (``403`` otherwise);
- the upstream document id makes creation idempotent (same bytes → the stored document;
  different bytes → ``409``);
- the signatory and the case rules are checked *before* a registration number is taken;
  the number is reserved in the issuance journal by a short transaction, the document is
  rendered and signed outside any lock, and a failure after the reservation makes the
  number *void* (accounted for, never reused) — see :mod:`service.domain.issuance`;
- a document is visible only to its sender and its recipient; to anyone else it does not
  exist (``404``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree
from sqlalchemy import Select, Table, bindparam, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain import cases
from service.domain import issuance as journal
from service.domain.auth import Principal
from service.errors import Conflict, Forbidden, Gone, NotFound, Violation
from service.pipeline import personal_data, render_lock
from service.pipeline.document import Document
from service.pipeline.letterhead import Parties, seed_parties
from service.pipeline.rendering import FORM_VERSION, Renderer
from service.pipeline.stages import intake
from service.pipeline.vocabulary import AUTHORITIES
from service.store import audit
from service.store.db import Database
from service.store.exchange_tables import Delivery, Incoming
from service.store.rows import insert_row
from service.store.storage import Storage
from service.store.tables import Issuance, RegistrationCounter, StoredDocument
from signing.api import DocumentSigner, Prepared, SignRequest
from signing.inline import SlotTooSmall
from signing.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Created:
    document: StoredDocument
    created: bool
    """False when the same document had been posted before (idempotent repeat)."""
    warnings: tuple[Violation, ...] = ()
    """Free text that looks like personal data outside the person blocks (Art. 6)."""


@dataclass(frozen=True)
class DocumentFilter:
    document_type: str | None = None
    counterpart: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    registration_number: str | None = None
    """Substring of the registration number."""
    upstream_id: str | None = None
    """The upstream system's documentId (compared without regard to case)."""
    direction: str | None = None
    """``outgoing`` (sent by the caller's authority) or ``incoming`` (addressed to it)."""
    exchange_status: str | None = None
    """Delivery state of an outgoing exchanged document, or ``received`` from the peer."""
    since: datetime | None = None
    """Stored in this service at or after this instant."""


def registration_number(authority: str, year: int, seq: int) -> str:
    return f"{authority}-{year}-{seq:06d}"


_DOCUMENTS: Table = StoredDocument.__table__  # type: ignore[assignment]
_ISSUANCES: Table = Issuance.__table__  # type: ignore[assignment]
_EARLIER = select(
    select(_DOCUMENTS.c.id)
    .where(
        _DOCUMENTS.c.sender == bindparam("sender"),
        _DOCUMENTS.c.upstream_id == bindparam("upstream_id"),
    )
    .scalar_subquery(),
    select(_ISSUANCES.c.id)
    .where(
        _ISSUANCES.c.authority == bindparam("sender"),
        _ISSUANCES.c.upstream_claim == bindparam("upstream_id"),
    )
    .scalar_subquery(),
)
"""A documentId's stored document and live journal row (each unique, or NULL)."""
_COUNTER = RegistrationCounter.__table__.c
_NEXT_NUMBER = text(
    f"INSERT INTO {RegistrationCounter.__tablename__} (authority, year, last) "
    "VALUES (:authority, :year, 1) ON CONFLICT (authority, year) "
    f"DO UPDATE SET last = {RegistrationCounter.__tablename__}.last + 1 RETURNING last"
).bindparams(
    bindparam("authority", type_=_COUNTER.authority.type),
    bindparam("year", type_=_COUNTER.year.type),
)
"""As text, the same on PostgreSQL and SQLite: SQLAlchemy 2.0 does not cache its
``on_conflict_do_update`` constructs and compiled this one on every POST."""


def next_number(session: Session, authority: str, year: int) -> int:
    """Increment the counter row in one statement (``INSERT … ON CONFLICT DO UPDATE …
    RETURNING``): the row stays locked (PostgreSQL) / the database write-locked (SQLite)
    until the caller's transaction ends.

    ``authority`` is the counter's key: an authority code, or ``IN:<code>`` for the
    incoming numbers of the exchange."""
    last = session.execute(_NEXT_NUMBER, {"authority": authority, "year": year}).scalar_one()
    return int(last)


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
        self.on_stored: list[Callable[[Session, StoredDocument, etree._Element], None]] = []
        """Run inside the transaction that stores a document, with its row and the parsed
        XML (the search index, the exchange's outbox)."""

    # ----- create -------------------------------------------------------------------------

    def parse(self, raw: bytes) -> tuple[Document, etree._Element]:
        """The typed document and its XML root (for line numbers of later checks)."""
        limits = dataclasses.replace(self.renderer.limits, max_xml_bytes=self.max_xml_bytes)
        return intake(raw, self.renderer.printable, limits)

    def load(self, row: StoredDocument) -> Document:
        """A stored document read back from its XML (its typed model)."""
        if row.destroyed_at is not None:
            raise Gone(f"{row.registration_number} was destroyed (Art. 11.5)")
        return self.parse(self.storage.get(f"{row.id}.xml"))[0]

    def _earlier(
        self, session: Session, sender: str, upstream_id: str, xml_sha256: str
    ) -> Created | None:
        """The answer already given to this documentId, if any: the stored document, or
        :class:`journal.StillIssuing` while its number is being issued, or 409 when the
        content differs.

        One plain-column probe of both the documents and the journal (nearly always
        nothing is found, and loading through the ORM cost more than the query); rows
        are loaded only when there is one.
        """
        stored_id, issuance_id = session.execute(
            _EARLIER, {"sender": sender, "upstream_id": upstream_id}
        ).one()
        if stored_id is not None:
            found = session.get(StoredDocument, stored_id)
            if found is not None:
                if found.xml_sha256 != xml_sha256:
                    raise Conflict(
                        f"document {upstream_id} was already posted with different content "
                        f"(registered as {found.registration_number}); send a new documentId"
                    )
                return Created(found, created=False)
        if issuance_id is not None:
            earlier = session.get(Issuance, issuance_id)
            if earlier is not None:
                return self._repeat(session, earlier, xml_sha256)
        return None

    def create(self, raw: bytes, principal: Principal, address: str) -> Created:
        """Validate, reserve a number, render and sign outside any lock, then store.

        Three steps, as a registry journal does it: a short transaction reserves the next
        number (journal row ``issuing``); rendering and signing hold no lock and no
        transaction; a second short transaction stores the document and marks the number
        ``issued``.  Any failure in between marks the number ``void`` with the reason.

        The whole of it is rendering work in hand (``render_lock.announced``): its render
        will queue behind any other of this process, so the server sends new connections
        to a freer worker from the start.
        """
        with render_lock.announced():
            return self._create(raw, principal, address)

    def _create(self, raw: bytes, principal: Principal, address: str) -> Created:
        doc, root = self.parse(raw)
        found = personal_data.warnings(root)
        header = doc.header
        if header.sender != principal.authority:
            raise Forbidden(
                f"this API key belongs to {principal.authority} and cannot send documents "
                f"of {header.sender}",
                (
                    Violation(
                        None,
                        f"/{etree.QName(root).localname}/header/sender",
                        f"{header.sender} is not the API key's authority {principal.authority}",
                        "wrong-authority",
                    ),
                ),
            )
        xml_sha256 = hashlib.sha256(raw).hexdigest()
        now = self.signer.signing_time()
        request = SignRequest(
            pdf=b"",
            signatory_id=header.signatory,
            authority=header.sender,
            document_type=doc.document_type,
            signing_time=now,
            block_prerendered=True,
        )
        outcome = self._reserve(doc, root, xml_sha256, request, now)
        if isinstance(outcome, Created):
            return dataclasses.replace(outcome, warnings=found)
        prepared, parties, reserved = outcome
        written: list[str] = []
        try:
            stored, level, files = self._produce(
                doc, raw, request, prepared, parties, reserved, xml_sha256
            )
            self._issue(doc, root, stored, level, files, written, principal, address)
        except BaseException as exc:
            # Nothing of a void number may survive: its files go, its row says why.
            for key in written:
                with contextlib.suppress(OSError):  # left over? fsck --repair removes it
                    self.storage.delete(key)
            journal.void_after_failure(self.database, reserved.id, exc, principal, address)
            raise
        return Created(stored, created=True, warnings=found)

    def _produce(
        self,
        doc: Document,
        raw: bytes,
        request: SignRequest,
        prepared: Prepared,
        parties: Parties,
        reserved: journal.Reservation,
        xml_sha256: str,
    ) -> tuple[StoredDocument, str, dict[str, bytes]]:
        """Step 2, outside any transaction: render and sign; the row to store, the
        signature level and the files (storage key → bytes)."""
        number = reserved.number
        block = self.signer.numbered(prepared, number)
        html = self.renderer.html(doc, number, signature=block, parties=parties)
        request = dataclasses.replace(request, registration_number=number)
        # The renderer writes the empty signature itself; signing fills it in place.
        slot = self.signer.slot(request, prepared)
        rendered = self.renderer.pdf(
            doc, html, raw, number, signature=block, parties=parties, slot=slot
        )
        try:
            signed = self.signer.sign(
                dataclasses.replace(request, pdf=rendered.pdf, slot=slot), prepared
            )
        except SlotTooSmall as exc:  # an unusually large chain or token: the usual way
            logger.warning("%s: signing %s again without the slot", exc, number)
            rendered = self.renderer.pdf(doc, html, raw, number, signature=block, parties=parties)
            signed = self.signer.sign(dataclasses.replace(request, pdf=rendered.pdf), prepared)
        header = doc.header
        now = prepared.at
        row = StoredDocument(
            id=reserved.id,
            upstream_id=header.document_id,
            document_type=doc.document_type,
            sender=header.sender,
            recipient=header.recipient,
            document_date=header.document_date.isoformat(),
            registration_number=number,
            reg_year=now.year,
            reg_seq=reserved.seq,
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
        return row, signed.level, {f"{reserved.id}.pdf": signed.pdf, f"{reserved.id}.xml": raw}

    def parties_in(self, session: Session, doc: Document, prepared: Prepared) -> Parties:
        """The registry versions of sender and recipient in force at ``prepared.at``
        (letterhead); the sender's is the signatory's authority, read by ``prepare``."""
        header = doc.header
        registry = Registry(session)
        sender = (
            prepared.authority
            if prepared.authority is not None and prepared.authority.code == header.sender
            else registry.authority_at(header.sender, prepared.at)
        )
        recipient = registry.authority_at(header.recipient, prepared.at)
        seed = seed_parties(header.sender, header.recipient)
        return Parties(sender or seed.sender, recipient or seed.recipient)

    def _reserve(
        self,
        doc: Document,
        root: etree._Element,
        xml_sha256: str,
        request: SignRequest,
        now: datetime,
    ) -> tuple[Prepared, Parties, journal.Reservation] | Created:
        """Step 1, one short transaction: the earlier answer to this documentId, or the
        signatory authorised with the block's content and the letterhead (the registry is
        read once, here), then the next number as a journal row ``issuing``.

        An unauthorised signatory or a case rule refuses the document before the counter
        moves: a refusal consumes no number.
        """
        header = doc.header
        try:
            with self.database.transaction() as session:
                earlier_answer = self._earlier(
                    session, header.sender, header.document_id, xml_sha256
                )
                if earlier_answer is not None:
                    return earlier_answer
                Registry(session).read_authorities((header.sender, header.recipient))
                prepared = self.signer.prepare(request, now, session)
                parties = self.parties_in(session, doc, prepared)
                # Case checks (Art. 8-10) before the number is taken: a refusal consumes none.
                cases.plan(session, doc, root, self.load)
                year = prepared.at.year
                seq = next_number(session, header.sender, year)
                number = registration_number(header.sender, year, seq)
                reservation = journal.reserve(
                    session, header.sender, year, seq, number, header.document_id, xml_sha256
                )
                return prepared, parties, reservation
        except IntegrityError:
            # A concurrent request with the same documentId reserved first (PostgreSQL);
            # this transaction, its number included, was rolled back.
            with self.database.reading() as session:
                earlier = journal.live(session, header.sender, header.document_id)
                if earlier is None:
                    raise
                return self._repeat(session, earlier, xml_sha256)

    def _repeat(self, session: Session, earlier: Issuance, xml_sha256: str) -> Created:
        """The answer to a documentId already in the journal: the stored document or 409."""
        if earlier.xml_sha256 != xml_sha256:
            raise Conflict(
                f"document {earlier.upstream_id} was already posted with different content "
                f"(registered as {earlier.registration_number}); send a new documentId"
            )
        stored = session.get(StoredDocument, earlier.id)
        if stored is None:
            raise journal.StillIssuing(
                f"document {earlier.upstream_id} is being issued right now as "
                f"{earlier.registration_number}; repeat the request in a few seconds"
            )
        return Created(stored, created=False)

    def _issue(
        self,
        doc: Document,
        root: etree._Element,
        stored: StoredDocument,
        level: str,
        files: dict[str, bytes],
        written: list[str],
        principal: Principal,
        address: str,
    ) -> None:
        """Step 3, one transaction: the files (in it, or written before it commits — see
        :meth:`Storage.put_in`; their keys go to ``written`` first), the row, the number
        marked issued."""
        with self.database.transaction() as session:
            written.extend(files)
            self.storage.put_all_in(session, files)
            journal.mark_issued(session, stored.id, stored.created_at)
            # The cases may have moved on while the document rendered: check again.
            planned = cases.plan(session, doc, root, self.load)
            insert_row(session, stored)  # stays transient: Core, not the unit of work
            case = cases.attach(session, planned, stored)
            # e.g. the exchange's outbox row: in the same transaction as the document
            for hook in self.on_stored:
                hook(session, stored, root)
            audit.record(
                session,
                actor=principal.actor,
                action="document.create",
                target=stored.id,
                address=address,
                details={
                    "registration_number": stored.registration_number,
                    "document_type": doc.document_type,
                    "pdf_sha256": stored.pdf_sha256,
                    "level": level,
                    "case": case.id if case is not None else None,
                },
            )

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
        query = _exchange_filters(query, flt, principal.authority)
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


def _exchange_filters(query: Select[Any], flt: DocumentFilter, authority: str) -> Select[Any]:
    """``document_id``, ``direction``, ``status`` and ``since`` of the documents list."""
    if flt.upstream_id:
        query = query.where(func.lower(StoredDocument.upstream_id) == flt.upstream_id.lower())
    if flt.direction == "outgoing":
        query = query.where(StoredDocument.sender == authority)
    elif flt.direction == "incoming":
        query = query.where(StoredDocument.recipient == authority)
    if flt.exchange_status == "received":
        query = query.where(StoredDocument.id.in_(select(Incoming.document_id).scalar_subquery()))
    elif flt.exchange_status is not None:
        query = query.where(
            StoredDocument.id.in_(
                select(Delivery.document_id)
                .where(Delivery.status == flt.exchange_status)
                .scalar_subquery()
            )
        )
    if flt.since is not None:
        query = query.where(StoredDocument.created_at >= flt.since)
    return query


def authority_name(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return authority.name_ru if authority else code
