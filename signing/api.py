# mypy: disallow-untyped-calls=False
"""High-level entry point: sign a rendered PDF on behalf of a registered signatory.

This is what the render pipeline and the CLI call::

    signer = DocumentSigner(session_factory, config=SigningConfig(tsa_url=...))
    signed = signer.sign(SignRequest(pdf=rendered, signatory_id="kz-mvd-ivanov",
                                     authority="KZ-MVD", document_type="request",
                                     registration_number="KZ-MVD/2026/000123"))
    signed.pdf  # bytes

Order of checks (each refusal raises before any signing work, so nothing is
produced): registry authorisation at the signing time → certificate validity
and key usage at the signing time → key loading (cached) → PAdES signing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from asn1crypto import x509
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy.orm import Session

from signing.untrusted import untrusted_reader

from . import speedups
from .appearance import PARTY_TIMEZONES, AppearanceConfig, SignatureBlockInfo
from .archive import async_add_archive_timestamp
from .errors import CertificateNotUsable, InvalidDocument
from .external import ExternalBackend, MechanismSigner
from .inline import SignatureSlot, fill
from .keys import KeyStore, Pkcs11Backend, Pkcs12Backend
from .loops import run_sync
from .pades import (
    BYTES_RESERVED_BASE,
    BYTES_RESERVED_TIMESTAMP,
    DEFAULT_FIELD_NAME,
    DEFAULT_REASON,
    LtvConfig,
    PadesOptions,
    add_revocation_level,
    async_sign_pdf,
    pyhanko_errors,
)
from .registry import Authority, Registry, Signatory
from .settings import DEFAULT_BASE_URL
from .timestamps import http_timestamper

speedups.install()  # B-LT re-reads the signed file: the /Contents hex string is hot

SIGNING_KEY_USAGES = frozenset({"digital_signature", "non_repudiation"})


@dataclass(frozen=True)
class SigningConfig:
    """Service-wide signing settings."""

    base_url: str = DEFAULT_BASE_URL
    """Base of the verification URL printed and encoded in the QR code."""
    tsa_url: str | None = None
    """RFC 3161 TSA; ``None`` = PAdES B-B."""
    tsa_timeout: float = 10.0
    ltv: LtvConfig | None = None
    """B-LT settings (trust roots); ``None`` = no revocation info embedded."""
    archive_timestamp: bool = False
    """Add a document timestamp over the DSS after signing (PAdES B-LTA); needs a TSA
    and :attr:`ltv`."""
    reason: str = DEFAULT_REASON
    location: str | None = None
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)


@dataclass(frozen=True)
class SignRequest:
    """One document to sign."""

    pdf: bytes
    """The rendered PDF/A-3 document."""
    signatory_id: str
    document_type: str
    """Must be among the signatory's allowed document types."""
    authority: str | None = None
    """Sending authority of the document; ``None`` = the signatory's own (CLI use)."""
    registration_number: str | None = None
    """``None`` = taken from the document's XMP ``dc:identifier`` if present."""
    visible: bool = True
    tsa_url: str | None = None
    """Overrides :attr:`SigningConfig.tsa_url` for this request."""
    signing_time: datetime | None = None
    """The signing time to claim; ``None`` = now.  Set it to the time printed in a block
    drawn beforehand (see :meth:`DocumentSigner.prepare_block`)."""
    block_prerendered: bool = False
    """The visible block is already drawn in the document's reserved area (by the
    renderer): the widget then gets an empty appearance over it instead of a pyHanko stamp,
    which saves the per-signature font embedding (~25 ms)."""
    slot: SignatureSlot | None = None
    """The empty signature the renderer wrote into :attr:`pdf` (:meth:`DocumentSigner.slot`):
    it is filled in place, without re-reading the PDF (:mod:`.inline`).  Needs ``prepared``
    at the same signing time."""


@dataclass(frozen=True)
class SignedDocument:
    """Result of a successful signature."""

    pdf: bytes
    sha256: str
    level: str
    """PAdES level reached: ``B-B``, ``B-T``, ``B-LT`` or ``B-LTA``."""
    signing_time: datetime
    signatory_id: str
    signatory_version: int
    authority: str
    document_type: str
    registration_number: str | None
    certificate_serial_hex: str
    field_name: str


@dataclass(frozen=True)
class Prepared:
    """A request authorised at one time: the signatory and its block (without a number).

    Made by :meth:`DocumentSigner.prepare` in one registry read; pass it to
    :meth:`DocumentSigner.sign` so that signing reads the registry no more (the service
    authorises once per document, before it takes a registration number)."""

    signatory: Signatory
    block: SignatureBlockInfo
    at: datetime
    authority: Authority | None = None
    """The signatory's authority in the registry at ``at`` (the block's and the
    letterhead's), as read for the block."""


def verification_url(base_url: str, registration_number: str) -> str:
    return f"{base_url.rstrip('/')}/verify?document={quote(registration_number, safe='')}"


@dataclass(frozen=True)
class CertificateFacts:
    """What signing reads of a certificate on every document (parsed once per
    certificate: :func:`certificate_facts`)."""

    serial_hex: str
    not_before: datetime
    not_after: datetime
    usages: frozenset[str] | None
    """keyUsage; ``None`` without the extension."""
    owner: str
    """Common name and organisation, as the visible block shows them."""


@functools.lru_cache(maxsize=256)
def certificate_facts(der: bytes) -> CertificateFacts:
    """The facts of a DER certificate; cached by its bytes (a registered certificate never
    changes, and parsing it with asn1crypto took ~0.3 ms of every POST)."""
    cert = x509.Certificate.load(der)
    validity = cert["tbs_certificate"]["validity"]
    usages = cert.key_usage_value.native if cert.key_usage_value is not None else None
    return CertificateFacts(
        serial_hex=format(cert.serial_number, "X"),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        usages=frozenset(usages) if usages is not None else None,
        owner=_cn(cert),
    )


def check_certificate(cert: x509.Certificate | bytes, at: datetime) -> None:
    """Refuse a certificate (parsed, or DER) that is expired, not yet valid or not for
    signing at ``at``."""
    facts = certificate_facts(cert if isinstance(cert, bytes) else cert.dump())
    serial = facts.serial_hex
    not_before, not_after = facts.not_before, facts.not_after
    if at < not_before:
        raise CertificateNotUsable(
            f"Сертификат {serial} ещё не действует: действителен с {not_before:%Y-%m-%d} "
            f"(certificate not yet valid)",
            reason="not-yet-valid",
        )
    if at >= not_after:
        raise CertificateNotUsable(
            f"Срок действия сертификата {serial} истёк {not_after:%Y-%m-%d} (certificate expired)",
            reason="expired",
        )
    usages = facts.usages
    # No keyUsage extension means "any usage" (RFC 5280 §4.2.1.3).
    if usages is not None and not (usages & SIGNING_KEY_USAGES):
        raise CertificateNotUsable(
            f"Сертификат {serial} не предназначен для электронной подписи: нет "
            f"digitalSignature/nonRepudiation (key usage: {', '.join(sorted(usages))}) "
            f"(certificate lacks signing key usage)",
            reason="key-usage",
        )


def read_registration_number(pdf: bytes) -> str | None:
    """The document's ``dc:identifier`` from its XMP metadata, if any."""
    from pyhanko.pdf_utils.metadata import model, xmp_xml

    try:
        reader = untrusted_reader(pdf)
        meta = reader.root.get("/Metadata")
        if meta is None:
            return None
        meta = meta.get_object()
        if not isinstance(meta, xmp_xml.MetadataStream):
            return None
        key = model.ExpandedName(ns=model.NS["dc"], local_name="identifier")
        for struct in meta.xmp:
            for name, value in struct:
                if name == key:
                    v = value.value
                    if isinstance(v, model.XmpArray) and v.entries:
                        v = v.entries[0].value
                    return str(v) if isinstance(v, str) and v.strip() else None
    except Exception:  # metadata is a convenience: unreadable XMP = no number
        return None
    return None


def _cn(cert: x509.Certificate) -> str:
    subject = cert.subject.native
    parts = [subject.get("common_name"), subject.get("organization_name")]
    return ", ".join(p for p in parts if isinstance(p, str)) or cert.subject.human_friendly


class DocumentSigner:
    """Signs documents for registered signatories; safe to share across threads.

    :param session_factory: makes SQLAlchemy sessions on the registry database.
    :param keys: key store (per-process cache of loaded keys).
    :param config: service-wide settings.
    :param timestamper: overrides the TSA built from ``config.tsa_url`` (tests).
    :param clock: "now" (tests).
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        keys: KeyStore | None = None,
        config: SigningConfig | None = None,
        timestamper: TimeStamper | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions = session_factory
        self.keys = keys or KeyStore([Pkcs12Backend(), Pkcs11Backend(), ExternalBackend()])
        self.config = config or SigningConfig()
        self._timestamper = timestamper
        self._clock = clock or (lambda: datetime.now(UTC))

    def authorise(self, req: SignRequest, at: datetime) -> Signatory:
        """Registry + certificate checks for ``req`` at ``at``; raises the refusal."""
        with self._sessions() as session:
            return self._authorised(Registry(session), req, at)

    @staticmethod
    def _authorised(registry: Registry, req: SignRequest, at: datetime) -> Signatory:
        authority = req.authority
        if authority is None:
            versions = registry.signatory_versions(req.signatory_id)
            authority = versions[-1].authority_code if versions else ""
        signatory = registry.authorised_signatory(
            req.signatory_id, authority, req.document_type, at
        )
        check_certificate(signatory.certificate_der, at)
        return signatory

    def _timestamper_for(self, req: SignRequest) -> TimeStamper | None:
        url = req.tsa_url or None
        if url:
            return http_timestamper(url, self.config.tsa_timeout)
        if self._timestamper is not None:
            return self._timestamper
        if self.config.tsa_url:
            return http_timestamper(self.config.tsa_url, self.config.tsa_timeout)
        return None

    def signing_time(self) -> datetime:
        """Now, to the second: the resolution of the CMS signing-time attribute."""
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def prepare_block(
        self, req: SignRequest, at: datetime, registration_number: str | None
    ) -> SignatureBlockInfo:
        """Authorise ``req`` at ``at`` and return what its visible block will say.

        For renderers that draw the block themselves; sign afterwards with
        ``signing_time=at`` and ``block_prerendered=True`` so the two agree.
        """
        signatory = self.authorise(req, at)
        return self._block(signatory, at, registration_number, self._authority_at(signatory, at))

    def prepare(self, req: SignRequest, at: datetime, session: Session | None = None) -> Prepared:
        """:meth:`authorise` and the block's content in one registry read (see
        :class:`Prepared`; in ``session`` if given); raises the refusal like
        :meth:`authorise`."""
        if session is None:
            with self._sessions() as own:
                return self.prepare(req, at, own)
        registry = Registry(session)
        signatory = self._authorised(registry, req, at)
        authority = registry.authority_at(signatory.authority_code, at)
        return Prepared(signatory, self._block(signatory, at, None, authority), at, authority)

    def numbered(self, prepared: Prepared, registration_number: str) -> SignatureBlockInfo:
        """The prepared block with the registration number (and its verification URL)."""
        return dataclasses.replace(
            prepared.block,
            registration_number=registration_number,
            verification_url=verification_url(self.config.base_url, registration_number),
        )

    def _authority_at(self, signatory: Signatory, at: datetime) -> Authority | None:
        with self._sessions() as session:
            return Registry(session).authority_at(signatory.authority_code, at)

    def _block(
        self,
        signatory: Signatory,
        at: datetime,
        reg_no: str | None,
        auth: Authority | None,
    ) -> SignatureBlockInfo:
        """The block's content; ``auth``: the signatory's authority at ``at``."""
        facts = certificate_facts(signatory.certificate_der)
        return SignatureBlockInfo(
            position=signatory.position_ru,
            full_name=signatory.full_name_ru,
            full_name_latin=signatory.full_name_latin,
            signing_time=at,
            registration_number=reg_no,
            certificate_serial_hex=facts.serial_hex,
            certificate_owner=facts.owner,
            certificate_valid_from=facts.not_before,
            certificate_valid_to=facts.not_after,
            verification_url=verification_url(self.config.base_url, reg_no) if reg_no else None,
            authority=auth.short_name_ru if auth else None,
            timezone=PARTY_TIMEZONES.get(auth.country, "UTC") if auth else "UTC",
        )

    def slot(self, req: SignRequest, prepared: Prepared) -> SignatureSlot:
        """The empty signature of ``req`` for the renderer to write into the document (the
        signature dictionary's entries are known before the file exists); sign the result
        with ``SignRequest(slot=...)``."""
        timestamped = self._timestamper_for(req) is not None
        return SignatureSlot(
            field_name=DEFAULT_FIELD_NAME,
            signer_name=prepared.signatory.full_name_ru,
            reason=self.config.reason,
            location=self.config.location,
            signing_time=prepared.at,
            hex_digits=BYTES_RESERVED_BASE + (BYTES_RESERVED_TIMESTAMP if timestamped else 0),
        )

    async def async_sign(
        self, req: SignRequest, prepared: Prepared | None = None
    ) -> SignedDocument:
        """Sign ``req``; with ``prepared`` (authorised at the request's signing time) the
        registry is not read again."""
        if not req.pdf.startswith(b"%PDF-"):
            raise InvalidDocument("input is not a PDF (no %PDF- header)")
        at = (req.signing_time or self.signing_time()).astimezone(UTC).replace(microsecond=0)
        reg_no = req.registration_number or read_registration_number(req.pdf)
        if prepared is not None and prepared.at == at:
            signatory = prepared.signatory
            block = (
                self.numbered(prepared, reg_no)
                if reg_no
                else dataclasses.replace(prepared.block, registration_number=None)
            )
        else:
            signatory = self.authorise(req, at)
            block = self._block(signatory, at, reg_no, self._authority_at(signatory, at))
        signer = self.keys.signer_for(signatory.key, signatory.certificate_der)
        serial = certificate_facts(signatory.certificate_der).serial_hex
        options = PadesOptions(
            md_algorithm=signer.mechanism.digest_algorithm
            if isinstance(signer, MechanismSigner)
            else "sha256",
            reason=self.config.reason,
            location=self.config.location,
            visible=req.visible,
            appearance=self.config.appearance,
            ltv=self.config.ltv,
            block_prerendered=req.block_prerendered,
        )
        timestamper = self._timestamper_for(req)
        if req.slot is not None and req.slot.placed:
            if req.slot.signing_time != at:
                raise InvalidDocument("the signature slot was made for another signing time")
            with pyhanko_errors():
                filled = await fill(
                    req.pdf,
                    req.slot,
                    signer,
                    md_algorithm=options.md_algorithm,
                    timestamper=timestamper,
                )
            pdf, level = await add_revocation_level(filled, options.ltv, timestamper)
            field_name = req.slot.field_name
        else:
            result = await async_sign_pdf(
                req.pdf,
                signer,
                signer_name=signatory.full_name_ru,
                block=block,
                options=options,
                timestamper=timestamper,
                signing_time=at,
            )
            pdf, level, field_name = result.pdf, result.level, result.field_name
        if self.config.archive_timestamp and level == "B-LT" and timestamper is not None:
            assert self.config.ltv is not None
            pdf = await async_add_archive_timestamp(pdf, timestamper, self.config.ltv)
            level = "B-LTA"
        return SignedDocument(
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            level=level,
            signing_time=at,
            signatory_id=signatory.signatory_id,
            signatory_version=signatory.version,
            authority=signatory.authority_code,
            document_type=req.document_type,
            registration_number=reg_no,
            certificate_serial_hex=serial,
            field_name=field_name,
        )

    def sign(self, req: SignRequest, prepared: Prepared | None = None) -> SignedDocument:
        """Synchronous :meth:`async_sign`; from async code call that one instead."""
        return run_sync(self.async_sign(req, prepared))
