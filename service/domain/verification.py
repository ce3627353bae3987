"""The service's verifier: :func:`signing.verification.verify_document` with this node's
trust roots, its signatory registry, its stored documents and lists, its seal and its
schemas.

Built once per app (:func:`service.web.verify.verifier`) or per CLI run
(``migdocs verify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, Row, String, bindparam, select

from service.config import Settings
from service.domain.signatory_lists import DOCUMENT_TYPE as SIGNATORY_LIST_TYPE
from service.domain.signatory_lists import SIGNER_DOCUMENT_TYPE
from service.errors import InputError
from service.pipeline.messages_ru import russian_refusal
from service.pipeline.xmlinput import load
from service.store.db import Database
from service.store.tables import SignatoryList, StoredDocument, TimestampRenewal
from signing.errors import SigningError
from signing.seal import Seal, SealConfig, ensure_demo_seal
from signing.verification import (
    KnownDocument,
    SessionRegistryLookup,
    TrustRoots,
    VerificationReport,
    async_verify_document,
    run_sync,
)


def trust_root_files(settings: Settings) -> list[Path]:
    """The configured PEM files, or the demo roots ``<instance>/pki/*-root.pem``."""
    if settings.trust_roots:
        return [Path(p.strip()) for p in settings.trust_roots.split(",") if p.strip()]
    return sorted((settings.instance_dir / "pki").glob("*-root.pem"))


@dataclass
class Verifier:
    """Everything a verification needs, built once per app (or CLI run)."""

    roots: TrustRoots
    registry: SessionRegistryLookup
    database: Database
    max_xml_bytes: int
    own_seal: bytes | None = None
    """DER certificate of the service's seal: its sealed reports are its own output."""

    def known(self, sha256: str) -> KnownDocument | None:
        """What the service issued with these exact bytes: a document or a signatory list.

        Plain column queries on a connection (no ORM session): this runs for every
        verification and the ORM's unit of work would cost more than the queries."""
        with self.database.engine.connect() as connection:
            key = {"sha256": sha256}
            row = connection.execute(_DOCUMENT_BY_SHA, key).one_or_none()
            if row is None:
                # a copy from before a timestamp renewal: the same document
                row = connection.execute(_RENEWED_BY_SHA, key).one_or_none()
            if row is None:
                return _known_list(connection.execute(_LIST_BY_SHA, key).one_or_none())
        return KnownDocument(
            registration_number=row.registration_number,
            document_type=row.document_type,
            sender=row.sender,
            recipient=row.recipient,
            document_date=row.document_date,
            signed_at=row.signed_at,
            form_version=row.form_version,
            signatory_id=row.signatory_id,
            destroyed_at=row.destroyed_at,
        )

    def validate_source(self, raw: bytes) -> str:
        """The document type of an embedded source XML; a refusal is told in Russian (the
        report and the page show it to people)."""
        try:
            return load(raw, self.max_xml_bytes).document_type
        except InputError as exc:
            raise ValueError(russian_refusal(exc)) from exc

    async def async_verify(self, pdf: bytes, now: datetime | None = None) -> VerificationReport:
        """Verify ``pdf``; ``now`` = the verification time (default: the clock)."""
        return await async_verify_document(
            pdf,
            trust_roots=self.roots,
            registry_lookup=self.registry,
            known_document_lookup=self.known,
            source_validator=self.validate_source,
            own_seal=self.own_seal,
            now=now,
        )

    def verify(self, pdf: bytes, now: datetime | None = None) -> VerificationReport:
        return run_sync(self.async_verify(pdf, now))


_SHA256: BindParameter[str] = bindparam("sha256", type_=String())
_DOCUMENT_BY_SHA = (
    select(
        StoredDocument.registration_number,
        StoredDocument.document_type,
        StoredDocument.sender,
        StoredDocument.recipient,
        StoredDocument.document_date,
        StoredDocument.signed_at,
        StoredDocument.form_version,
        StoredDocument.signatory_id,
        StoredDocument.destroyed_at,
    )
    .where(StoredDocument.pdf_sha256 == _SHA256)
    .limit(2)
)
_RENEWED_BY_SHA = (
    select(*_DOCUMENT_BY_SHA.selected_columns)
    .join(TimestampRenewal, TimestampRenewal.document_id == StoredDocument.id)
    .where(TimestampRenewal.previous_sha256 == _SHA256)
    .limit(1)
)
_LIST_BY_SHA = (
    select(
        SignatoryList.authority,
        SignatoryList.version,
        SignatoryList.generated_at,
        SignatoryList.signatory_id,
    )
    .where(SignatoryList.pdf_sha256 == _SHA256)
    .limit(2)
)


def _known_list(row: Row[Any] | None) -> KnownDocument | None:
    if row is None:
        return None
    return KnownDocument(
        registration_number=f"{row.authority}, версия {row.version}",
        document_type=SIGNATORY_LIST_TYPE,
        sender=row.authority,
        recipient="",
        document_date=row.generated_at.date().isoformat(),
        signed_at=row.generated_at,
        form_version="",
        signatory_id=row.signatory_id or "",
        kind="signatory-list",
        signed_as=SIGNER_DOCUMENT_TYPE,
    )


def seal_config(settings: Settings) -> SealConfig:
    """The configured seal PKCS#12, or the demo seal (made on first use)."""
    if settings.seal_pkcs12 is not None:
        p = settings.seal_pkcs12
        pass_file = p.with_name(p.name + ".pass")
        return SealConfig(p, pass_file if pass_file.is_file() else None)
    return ensure_demo_seal(settings.instance_dir)


def _own_seal_certificate(settings: Settings) -> bytes | None:
    try:
        return bytes(Seal(seal_config(settings)).certificate.dump())
    except (SigningError, OSError):  # no usable seal: its reports are not recognised
        return None


def build_verifier(settings: Settings, database: Database) -> Verifier:
    files = trust_root_files(settings)
    return Verifier(
        roots=TrustRoots.from_pem_files(f for f in files if f.is_file()),
        registry=SessionRegistryLookup(database.sessions),
        database=database,
        max_xml_bytes=settings.max_xml_bytes,
        own_seal=_own_seal_certificate(settings),
    )
