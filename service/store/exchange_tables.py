"""Tables of the exchange between the Parties: peer node, outbox deliveries, incoming documents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signing.db import Base, UTCDateTime

PENDING = "pending"
"""Waiting for (another) attempt; also while a worker holds it (its lease)."""
DELIVERED = "delivered"
"""The peer answered with a positive signed receipt."""
REFUSED = "refused"
"""The peer answered with a signed negative receipt (verification failed)."""
FAILED = "failed"
"""No receipt before the give-up time."""
DELIVERY_STATUSES = (PENDING, DELIVERED, REFUSED, FAILED)


# ----- storage keys of the exchange's files (the rows below name them; fsck knows them) -----


def receipt_key(document_id: str) -> str:
    """The signed receipt of a delivered or received document."""
    return f"{document_id}.receipt.pdf"


def received_list_key(authority: str, version: int) -> str:
    """A signatory list of the other Party, as received."""
    return f"received-list-{authority}-v{version}.pdf"


def published_form_key(sha256: str) -> str:
    """A signed sample form of this Party, as published to the peer."""
    return f"published-form-{sha256}.pdf"


def received_form_key(sha256: str) -> str:
    """A signed sample form of the other Party, as received."""
    return f"received-form-{sha256}.pdf"


class Peer(Base):
    """The node of the other Party."""

    __tablename__ = "exchange_peers"

    party: Mapped[str] = mapped_column(String(2), primary_key=True)
    """``KZ`` or ``BY``: one peer node per Party."""
    url: Mapped[str] = mapped_column(String(500))
    """Base URL of its peer listener, e.g. ``https://by-node.example:8443``."""
    trust_roots_pem: Mapped[str] = mapped_column(Text)
    """Its Party's root certificate(s), PEM: they verify its TLS certificates and receipts."""
    node_cert_pem: Mapped[str] = mapped_column(Text)
    """The certificate its node presents as TLS client (and server)."""
    node_cert_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of ``node_cert_pem``'s DER: how an arriving connection is recognised."""
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Delivery(Base):
    """An outgoing document on its way to the peer (the transactional outbox row)."""

    __tablename__ = "exchange_deliveries"
    __table_args__ = (Index("ix_exchange_deliveries_due", "status", "next_attempt_at"),)

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    party: Mapped[str] = mapped_column(String(2))
    """The Party (peer) it goes to."""
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Due time; a worker's claim moves it to the end of its lease."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    receipt_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The signed receipt PDF is in storage as ``<document id>.receipt.pdf``."""
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the peer received the document (from the receipt)."""
    incoming_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The peer's incoming number (from a positive receipt)."""


class Incoming(Base):
    """A document received from the peer and stored here (a row of ``documents`` too)."""

    __tablename__ = "exchange_incoming"
    __table_args__ = (
        UniqueConstraint("sender_number", "pdf_sha256", name="uq_exchange_incoming_sender_sha"),
        Index("ix_exchange_incoming_recipient_seq", "recipient", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    """Order of receipt on this node: the inbox cursor."""
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), unique=True)
    sender_number: Mapped[str] = mapped_column(String(64))
    """The sender's registration number."""
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(32))
    incoming_number: Mapped[str] = mapped_column(String(64), unique=True)
    """«вх. №» given by this node."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    receipt_sha256: Mapped[str] = mapped_column(String(64))
    """The signed receipt is in storage as ``<document id>.receipt.pdf``."""
    indication: Mapped[str] = mapped_column(String(32))


class PublicationState:
    """The outbox state of something published to the peer (a list or a sample form)."""

    party: Mapped[str] = mapped_column(String(2))
    """The Party (peer) it goes to."""
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``delivered`` (the peer acknowledged it) or ``refused``."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the peer's answer arrived."""
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the peer received it (its acknowledgement says)."""
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ListPublication(PublicationState, Base):
    """A version of one of this Party's signatory lists on its way to the peer (Art. 9.3,
    9.4: "незамедлительно"), an outbox row like :class:`Delivery`."""

    __tablename__ = "exchange_list_publications"
    __table_args__ = (Index("ix_exchange_list_publications_due", "status", "next_attempt_at"),)

    authority: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class ReceivedList(Base):
    """A version of a signatory list of the other Party, as received from its node and
    verified against its Party's trust roots.  Every version is kept."""

    __tablename__ = "exchange_received_lists"
    __table_args__ = (UniqueConstraint("authority", "version", name="uq_exchange_received_list"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    party: Mapped[str] = mapped_column(String(2))
    authority: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    """The signed PDF is in storage as ``received-list-<authority>-v<version>.pdf``."""
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Its signing time."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signatory_id: Mapped[str] = mapped_column(String(64))
    """Who signed it (one of the authority's request signatories in it)."""
    snapshot: Mapped[str] = mapped_column(Text)
    """The list's machine-readable registry extract (``signatories.json``)."""


class Webhook(Base):
    """A URL an upstream system (one API key) wants told of documents received for its
    authority; each POST carries an HMAC-SHA256 of the body made with ``secret``."""

    __tablename__ = "exchange_webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    authority: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    """Shared with the API key's holder once, at creation (it must be able to sign)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(Base):
    """One event for one webhook: an outbox row, written with the event, sent by the
    delivery workers and retried like a document delivery."""

    __tablename__ = "exchange_webhook_deliveries"
    __table_args__ = (Index("ix_exchange_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("exchange_webhooks.id"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(String(36))
    payload: Mapped[str] = mapped_column(Text)
    """The exact JSON body that is signed and sent."""
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``delivered`` (a 2xx answer) or ``failed`` (gave up)."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """HTTP status of the last answer (``None``: no answer)."""
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class FormPublication(PublicationState, Base):
    """A signed sample form of this Party on its way to the peer (Art. 9.3: forms are
    exchanged as official samples, their changes "незамедлительно"), an outbox row like
    :class:`ListPublication`.  One row per (type, authority, form version, signer): a new
    template version, a new person signing for the authority, a new certificate of theirs
    or new letterhead requisites of the authority each make a new one."""

    __tablename__ = "exchange_form_publications"
    __table_args__ = (
        UniqueConstraint(
            "document_type",
            "authority",
            "form_version",
            "signer",
            name="uq_exchange_form_publication",
        ),
        Index("ix_exchange_form_publications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_type: Mapped[str] = mapped_column(String(64))
    authority: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[str] = mapped_column(String(16))
    signer: Mapped[str] = mapped_column(String(200))
    """Who signed it, as :meth:`service.domain.form_signing.FormSigning.approver_key` says
    (signatory, its version, its certificate's hash, the authority's registry version)."""
    signatory_id: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    """The signed PDF is in storage as ``published-form-<sha256>.pdf``: every attempt sends
    the same bytes, also after a restart."""


class ReceivedForm(Base):
    """A signed sample form of the other Party, as received from its node and verified
    (signature over the whole file, its Party's root, a signatory of the authority's
    exchanged list).  Every version is kept; the newest received is the one in force."""

    __tablename__ = "exchange_received_forms"
    __table_args__ = (
        UniqueConstraint("pdf_sha256", name="uq_exchange_received_form_sha"),
        Index("ix_exchange_received_forms_form", "document_type", "authority", "form_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    party: Mapped[str] = mapped_column(String(2))
    document_type: Mapped[str] = mapped_column(String(64))
    authority: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[str] = mapped_column(String(16))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    """The signed PDF is in storage as ``received-form-<sha256>.pdf``."""
    signatory_id: Mapped[str] = mapped_column(String(64))
    """Who signed it (a request signatory of the authority in its exchanged list)."""
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Its signing time (the timestamp's, if it has one)."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
