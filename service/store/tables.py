"""The service's tables (SQLAlchemy 2.0), on the same declarative base as the registry.

Models are plain: the logic lives in the service modules that use them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signing.db import Base, UTCDateTime


class StoredDocument(Base):
    """A signed document: metadata here, PDF and XML in storage."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("sender", "upstream_id", name="uq_documents_sender_upstream"),
        UniqueConstraint("sender", "reg_year", "reg_seq", name="uq_documents_reg_sequence"),
        Index("ix_documents_sender_created", "sender", "created_at"),
        Index("ix_documents_recipient_created", "recipient", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    upstream_id: Mapped[str] = mapped_column(String(36))
    """The UUID the upstream system gave the document (header/documentId)."""
    document_type: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(32))
    document_date: Mapped[str] = mapped_column(String(10))
    registration_number: Mapped[str] = mapped_column(String(64), unique=True)
    reg_year: Mapped[int] = mapped_column(Integer)
    reg_seq: Mapped[int] = mapped_column(Integer)
    signatory_id: Mapped[str] = mapped_column(String(64))
    signatory_name: Mapped[str] = mapped_column(String(300))
    xml_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdf_size: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer)
    form_version: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set when retention (Art. 11.5) destroyed the PDF and XML; the row keeps the hashes."""


class RegistrationCounter(Base):
    """Last registration number reserved per authority and year.

    Incremented in the short transaction that records the number in the issuance journal
    (:class:`Issuance`); every number up to ``last`` is in the journal, issued or void.
    """

    __tablename__ = "registration_counters"

    authority: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


ISSUING = "issuing"
ISSUED = "issued"
VOID = "void"


class Issuance(Base):
    """The issuance journal: one row per registration number ever reserved.

    ``issuing`` (reserved, being rendered and signed outside any lock) → ``issued`` (the
    document row exists) or ``void`` (the reason says why; the number is never reused).
    The row's ``id`` is also the stored document's id and its files' storage key stem.
    """

    __tablename__ = "issuances"
    __table_args__ = (
        UniqueConstraint("authority", "reg_year", "reg_seq", name="uq_issuances_number"),
        UniqueConstraint("authority", "upstream_claim", name="uq_issuances_claim"),
        Index("ix_issuances_status_started", "status", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(64), unique=True)
    authority: Mapped[str] = mapped_column(String(32))
    reg_year: Mapped[int] = mapped_column(Integer)
    reg_seq: Mapped[int] = mapped_column(Integer)
    upstream_id: Mapped[str] = mapped_column(String(36))
    upstream_claim: Mapped[str | None] = mapped_column(String(36), nullable=True)
    """``upstream_id`` while the issuance is live (issuing or issued), ``NULL`` once void:
    the unique constraint lets one documentId be issued once, and sent again after a void."""
    xml_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why the number is void."""
    worker: Mapped[str] = mapped_column(String(200))
    """``host:pid`` of the process that reserved the number."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKey(Base):
    """An upstream system's key, bound to one authority; only a hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    """Public part of the key, used to find the row."""
    secret_sha256: Mapped[str] = mapped_column(String(64))
    authority: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Officer(Base):
    """A person who logs in to the web pages; sees the documents of one authority."""

    __tablename__ = "officers"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(300))
    authority: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEntry(Base):
    """One line of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    """``apikey:<id>``, ``officer:<username>``, ``cli:<user>`` or ``anonymous``."""
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    """Canonical JSON object."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Single row naming the last audit entry; locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    """Sequence number of the last entry; 0 while the log is empty."""
    hash: Mapped[str] = mapped_column(String(64))


class SignatoryList(Base):
    """One generated version of an authority's list; the PDF is in storage."""

    __tablename__ = "signatory_lists"
    __table_args__ = (
        UniqueConstraint("authority", "version", name="uq_signatory_lists_authority_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    """1, 2, 3 … per authority; a new one on every change of its registry rows."""
    registry_sha256: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical registry snapshot the list was made from."""
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pdf_size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200))
    entries: Mapped[int] = mapped_column(Integer)
    """Number of signatories listed (authorised and former)."""
    signatory_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """Who signed the list; ``None``: nobody was authorised, the list is unsigned."""
    signatory_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    """A request and the documents that follow it (Art. 8–11), between two authorities.

    ``created_at`` is the request's receipt (its storing in this service); the deadline of
    Art. 10.3 is that date (UTC) + 30 calendar days and is computed, never stored.
    """

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), unique=True)
    request_number: Mapped[str] = mapped_column(String(64), unique=True)
    requesting: Mapped[str] = mapped_column(String(32), index=True)
    """The authority that sent the request."""
    requested: Mapped[str] = mapped_column(String(32), index=True)
    """The authority the request was sent to; it answers."""
    status: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseDocument(Base):
    """A document of a case (the request included); a document is in at most one case."""

    __tablename__ = "case_documents"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)


class Transfer(Base):
    """A document passed to a third party under a recorded consent (Art. 11.3)."""

    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    third_party: Mapped[str] = mapped_column(String(500))
    authority: Mapped[str] = mapped_column(String(32))
    """The authority that passed the document on."""
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OfficerSession(Base):
    """A logged-in officer's session, kept server-side so that it can be ended.

    The browser's (signed) cookie carries only a random token; the row is found by the
    token's SHA-256.  Logout deletes the row; disabling the officer or changing the
    password deletes all of the officer's rows; a row past its absolute lifetime or idle
    too long is refused (and deleted) on its next use.
    """

    __tablename__ = "officer_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the token in the cookie; the token itself is never stored."""
    username: Mapped[str] = mapped_column(ForeignKey("officers.username"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed logins of one account or one client address, for the exponential back-off."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``account:<username>`` or ``address:<client address>``."""
    failures: Mapped[int] = mapped_column(Integer)
    """Consecutive failures (reset by a success of the account, or after a quiet period)."""
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SearchEntry(Base):
    """What an officer searches a document by (see :mod:`service.domain.search`).

    ``terms`` is normalised (lower case, ``ё`` → ``е``, words split at any non-letter):
    surnames and names in Cyrillic and Latin, passport and permit numbers, the upstream
    documentId, the registration number.  The full-text index over it is the database's
    own (PostgreSQL GIN on ``to_tsvector``, SQLite FTS5) and made by migration 0010.
    """

    __tablename__ = "search_index"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    terms: Mapped[str] = mapped_column(Text)
    persons: Mapped[str] = mapped_column(Text)
    """The persons' names as written (Cyrillic), ``; ``-separated, for result lists."""


class OfficerVisit(Base):
    """When an officer logged in last and the time before: "new since my last visit"."""

    __tablename__ = "officer_visits"

    username: Mapped[str] = mapped_column(ForeignKey("officers.username"), primary_key=True)
    previous_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    current_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoredBlob(Base):
    """A stored file (PDF, XML, receipt) of the ``database`` storage backend.

    Written in the same transaction as the row that refers to it, so no file can outlive
    or precede its row, and every application host reads the same files.
    """

    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(210), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())


QUEUED = "queued"
RENDERING = "rendering"
DONE = "done"
FAILED_JOB = "failed"


class RenderJob(Base):
    """A document posted with ``Prefer: respond-async``, waiting for a render worker.

    ``queued`` → ``rendering`` (claimed under a lease; a worker that dies leaves it to be
    claimed again when the lease ends) → ``done`` (``document_id`` names the stored
    document) or ``failed`` (``error`` holds the JSON error answer the synchronous path
    would have given).  The posted XML waits in ``xml``, emptied when the job ends.
    """

    __tablename__ = "render_jobs"
    __table_args__ = (Index("ix_render_jobs_status_due", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    authority: Mapped[str] = mapped_column(String(32))
    """The sender's authority: only it can see the job."""
    actor: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    xml: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When a ``queued`` job may be claimed, or when the lease of a ``rendering`` one ends."""
    document_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    error_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TimestampRenewal(Base):
    """One archive timestamp added to a stored document (``migdocs timestamps renew``).

    The document row keeps the newest PDF hash; ``previous_sha256`` keeps each earlier
    one, so a copy handed out before the renewal is still known to the service.
    """

    __tablename__ = "timestamp_renewals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    previous_sha256: Mapped[str] = mapped_column(String(64), index=True)
    new_sha256: Mapped[str] = mapped_column(String(64))
    previous_tsa_not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the TSA certificate of the timestamp that was renewed expires."""
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
