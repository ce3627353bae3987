# mypy: disallow-untyped-calls=False
"""PAdES signing of PDF bytes that keeps the document PDF/A-3.

Levels: B-B always (``SigSeedSubFilter.PADES``); B-T when a timestamper is
given; B-LT when :class:`LtvConfig` is given and revocation information for the
signer (and TSA) chain can be fetched: it goes into the DSS of an incremental
update written after the signature.

PDF/A pitfalls handled here (measured with pyHanko 0.38, see DESIGN.md §5):

* With an EC key pyHanko raises the catalog ``/Version`` to 2.0 and registers the
  ISO 32002 extension.  A PDF/A-3 file is PDF 1.7: :class:`_PdfASigner` only
  registers the ESIC (PAdES) extension, and :class:`PdfAIncrementalWriter`
  refuses to raise the version above 1.7 (or the input's own version).
* pyHanko appends "; pyHanko x" to Info ``/Producer`` but writes "pyHanko x" as
  XMP ``pdf:Producer``.  :class:`PdfAIncrementalWriter` writes the Info value
  into XMP too, for every revision it writes (signature and DSS).
* The signing time printed in the visible block, the ``/M`` entry and the CMS
  signing-time attribute are the same instant.
* A fixed ``bytes_reserved`` avoids pyHanko's dry-run signature for size
  estimation (one private-key operation per signature instead of two).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata import model as xmp_model
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields as sig_fields
from pyhanko.sign import signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import constants as sig_constants
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.stamp import BaseStampStyle
from pyhanko_certvalidator.errors import RevokedError

from .appearance import EMPTY_APPEARANCE, AppearanceConfig, SignatureBlockInfo, build_stamp
from .errors import (
    CertificateNotUsable,
    InvalidDocument,
    PdfAViolation,
    RevocationInfoUnavailable,
    SigningError,
    TimestampUnavailable,
)
from .layout import SignatureArea, find_signature_area
from .revinfo import RevocationCache, gather

logger = logging.getLogger(__name__)

DEFAULT_REASON = "Подписание документа уполномоченным лицом (ст. 9.3 Соглашения)"
DEFAULT_FIELD_NAME = "migdocs-signature"
PDFA_MAX_VERSION = (1, 7)

BYTES_RESERVED_BASE = 8192
"""CMS room for B-B: signer + CA certificates (RSA-3072 ≈ 1.5 KB each), signature, attributes."""
BYTES_RESERVED_TIMESTAMP = 12288
"""Extra room for a timestamp token (it embeds the TSA certificate chain)."""


# --------------------------------------------------------------------------- writer


class PdfAIncrementalWriter(IncrementalPdfFileWriter):
    """Incremental writer that keeps what PDF/A needs (version, metadata agreement)."""

    def ensure_output_version(self, version: tuple[int, int]) -> None:
        prev = getattr(self, "prev", None)
        ceiling = max(PDFA_MAX_VERSION, prev.input_version if prev is not None else (1, 0))
        if version > ceiling:
            raise PdfAViolation(
                f"signing would raise the PDF version to {version[0]}.{version[1]}; "
                "a PDF/A-3 file must stay PDF 1.7"
            )
        super().ensure_output_version(version)

    def _update_meta(self) -> None:
        super()._update_meta()
        harmonise_producer(self)


def harmonise_producer(writer: IncrementalPdfFileWriter) -> None:
    """Make XMP ``pdf:Producer`` equal the Info ``/Producer`` pyHanko just wrote.

    Uses the same internal steps as ``MetadataStream.update_xmp_with_meta``; the
    signing tests assert the agreement, so a pyHanko change that breaks this
    fails loudly.
    """
    from pyhanko.pdf_utils.metadata import xmp_xml

    info_ref = writer._info
    if info_ref is None or "/Metadata" not in writer.root:
        return
    info = info_ref.get_object()
    meta = writer.root["/Metadata"]
    if not isinstance(meta, xmp_xml.MetadataStream) or "/Producer" not in info:
        return
    producer = str(info["/Producer"])
    merged = {k: v for struct in meta.xmp for k, v in struct}
    current = merged.get(xmp_model.PDF_PRODUCER)
    if current is not None and current.value == producer:
        return
    merged[xmp_model.PDF_PRODUCER] = xmp_model.XmpValue(producer)
    meta._xmp = [xmp_model.XmpStructure(merged)]
    meta._reserialise()
    meta._encoded_data = None
    writer.update_container(meta)


class _PdfASigner(signers.PdfSigner):
    """PdfSigner with PDF/A-safe extension registration and a fixed signing time."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_signing_time = signing_time

    def register_extensions(self, pdf_out: Any, *, md_algorithm: str) -> None:
        # Only the ESIC extension (PAdES in PDF 1.7).  pyHanko would also bump
        # the file to PDF 2.0 for ECDSA/EdDSA/SHA-3 (ISO 32001/32002).
        if md_algorithm not in ("sha256", "sha384", "sha512"):
            raise PdfAViolation(f"digest {md_algorithm} would require PDF 2.0 (ISO 32001)")
        if self.signature_meta.subfilter == sig_fields.SigSeedSubFilter.PADES:
            pdf_out.ensure_output_version(PDFA_MAX_VERSION)
            if pdf_out.output_version < (2, 0):
                pdf_out.register_extension(sig_constants.ESIC_EXTENSION_1)

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._fixed_signing_time
        return session


# --------------------------------------------------------------------------- API


@dataclass(frozen=True)
class LtvConfig:
    """Settings for B-LT (revocation information in the DSS)."""

    trust_roots: tuple[bytes, ...]
    """DER certificates of the trust anchors (country root CAs)."""
    required: bool = False
    """If True, failing to gather revocation info is an error; else the result is B-T."""
    other_certs: tuple[bytes, ...] = ()
    """Extra intermediate certificates (DER) to help path building."""
    cache: RevocationCache | None = field(default=None, compare=False)
    """Reuse fresh OCSP responses/CRLs across documents (:mod:`.revinfo`)."""


@dataclass(frozen=True)
class PadesOptions:
    """How to sign."""

    reason: str = DEFAULT_REASON
    """``/Reason`` of the signature dictionary."""
    location: str | None = None
    """``/Location``, e.g. the city of the authority."""
    contact_info: str | None = None
    field_name: str = DEFAULT_FIELD_NAME
    """Signature field name; ``-2``, ``-3`` … are appended if it is taken."""
    visible: bool = True
    """Draw the visible block (needs :class:`SignatureBlockInfo`)."""
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    md_algorithm: str = "sha256"
    bytes_reserved: int | None = None
    """CMS room in bytes; ``None`` = fixed defaults (no dry-run signature)."""
    ltv: LtvConfig | None = None
    """B-LT settings; ``None`` = no revocation info."""
    block_prerendered: bool = False
    """The block is already part of the page content: give the widget an empty
    appearance (still a normal appearance stream, as PDF/A requires)."""


@dataclass(frozen=True)
class PadesResult:
    """Outcome of :func:`sign_pdf`."""

    pdf: bytes
    """The signed file."""
    level: str
    """``B-B``, ``B-T`` or ``B-LT``."""
    signing_time: datetime
    field_name: str
    sha256: str
    """Hex SHA-256 of :attr:`pdf`."""
    area: SignatureArea | None
    """Where the visible block was drawn (``None`` if invisible)."""


def _unique_field_name(reader: PdfFileReader, base: str) -> str:
    taken = {name for name, _, _ in sig_fields.enumerate_sig_fields(reader)}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _open(pdf: bytes) -> PdfAIncrementalWriter:
    try:
        writer = PdfAIncrementalWriter(BytesIO(pdf), strict=True)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidDocument(f"input is not a readable PDF: {exc}") from exc
    if writer.prev.encrypted:
        raise InvalidDocument("encrypted PDFs are not signed (PDF/A forbids encryption)")
    return writer


async def async_sign_pdf(
    pdf: bytes,
    signer: signers.Signer,
    *,
    signer_name: str,
    block: SignatureBlockInfo | None = None,
    options: PadesOptions | None = None,
    timestamper: TimeStamper | None = None,
    signing_time: datetime | None = None,
) -> PadesResult:
    """Sign ``pdf`` and return the signed bytes.  See :func:`sign_pdf`."""
    options = options or PadesOptions()
    signing_time = (signing_time or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if block is not None and block.signing_time != signing_time:
        block = _replace_time(block, signing_time)
    writer = _open(pdf)
    field_name = _unique_field_name(writer.prev, options.field_name)

    area: SignatureArea | None = None
    stamp_style: BaseStampStyle | None = None
    text_params: dict[str, str] | None = None
    if options.visible:
        if block is None:
            raise SigningError("a visible signature needs the block contents")
        area = find_signature_area(writer.prev)
        if options.block_prerendered:
            stamp_style, text_params = EMPTY_APPEARANCE, {}
        else:
            stamp_style, text_params = build_stamp(
                block, area.width, area.height, options.appearance
            )
        field_spec = sig_fields.SigFieldSpec(
            sig_field_name=field_name,
            on_page=area.page_index,
            box=area.rect,  # type: ignore[arg-type]  # pyHanko accepts floats
        )
    else:
        field_spec = sig_fields.SigFieldSpec(sig_field_name=field_name)

    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=options.md_algorithm,
        subfilter=sig_fields.SigSeedSubFilter.PADES,
        reason=options.reason,
        location=options.location,
        contact_info=options.contact_info,
        name=signer_name,
    )
    pdf_signer = _PdfASigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=stamp_style,
        new_field_spec=field_spec,
        signing_time=signing_time,
    )
    reserved = options.bytes_reserved or (
        BYTES_RESERVED_BASE + (BYTES_RESERVED_TIMESTAMP if timestamper else 0)
    )
    with pyhanko_errors():
        try:
            out = await pdf_signer.async_sign_pdf(
                writer, bytes_reserved=reserved, appearance_text_params=text_params
            )
        except PyHankoSigningError as exc:
            if "bytes_reserved" not in str(exc) and "larger than" not in str(exc):
                raise
            # unusually large chain/token: fall back to pyHanko's estimate
            logger.warning("re-signing with estimate: %s", exc)
            writer = _open(pdf)
            out = await pdf_signer.async_sign_pdf(writer, appearance_text_params=text_params)

    signed, level = await add_revocation_level(out.getvalue(), options.ltv, timestamper)
    return PadesResult(
        pdf=signed,
        level=level,
        signing_time=signing_time,
        field_name=field_name,
        sha256=hashlib.sha256(signed).hexdigest(),
        area=area,
    )


@contextmanager
def pyhanko_errors() -> Iterator[None]:
    """pyHanko's exceptions while signing, as ours (:mod:`.errors`)."""
    try:
        yield
    except SigningError:
        raise
    except TimestampRequestError as exc:
        raise TimestampUnavailable(f"timestamp authority did not answer: {exc}") from exc
    except PyHankoSigningError as exc:
        if isinstance(exc.__cause__, TimestampRequestError):
            raise TimestampUnavailable(f"timestamp authority did not answer: {exc}") from exc
        raise SigningError(f"signing failed: {exc}") from exc
    except PdfError as exc:
        raise InvalidDocument(f"cannot sign this PDF: {exc}") from exc


async def add_revocation_level(
    signed: bytes, ltv: LtvConfig | None, timestamper: TimeStamper | None
) -> tuple[bytes, str]:
    """The signed file with revocation information when ``ltv`` asks for it, and the
    PAdES level reached: ``B-B``, ``B-T`` (timestamped) or ``B-LT`` (and the DSS)."""
    level = "B-T" if timestamper is not None else "B-B"
    if ltv is not None:
        with_revinfo = await _add_revocation_info(signed, ltv)
        if with_revinfo is not None:
            signed = with_revinfo
            if timestamper is not None:
                level = "B-LT"
    return signed, level


def sign_pdf(
    pdf: bytes,
    signer: signers.Signer,
    *,
    signer_name: str,
    block: SignatureBlockInfo | None = None,
    options: PadesOptions | None = None,
    timestamper: TimeStamper | None = None,
    signing_time: datetime | None = None,
) -> PadesResult:
    """Sign PDF bytes with PAdES (sync wrapper; in async code use :func:`async_sign_pdf`).

    :param pdf: the PDF/A document.
    :param signer: a pyHanko signer (see :mod:`signing.keys`).
    :param signer_name: ``/Name`` of the signature dictionary.
    :param block: contents of the visible block (required if ``options.visible``).
    :param timestamper: RFC 3161 client for B-T (``None`` = B-B).
    :param signing_time: defaults to now (UTC, whole seconds).
    :raises SigningError: subclasses only.
    """
    return asyncio.run(
        async_sign_pdf(
            pdf,
            signer,
            signer_name=signer_name,
            block=block,
            options=options,
            timestamper=timestamper,
            signing_time=signing_time,
        )
    )


def _replace_time(block: SignatureBlockInfo, at: datetime) -> SignatureBlockInfo:
    from dataclasses import replace

    return replace(block, signing_time=at)


def _certs(ders: Iterable[bytes]) -> list[x509.Certificate]:
    return [x509.Certificate.load(d) for d in ders]


async def _add_revocation_info(signed: bytes, ltv: LtvConfig) -> bytes | None:
    """Append a DSS revision with OCSP responses/CRLs for signer and TSA chains."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    buf = BytesIO(signed)
    writer = PdfAIncrementalWriter(buf)  # parsed once: its reader finds the signature too
    embedded = writer.prev.embedded_signatures[-1]
    try:
        paths, ocsps, crls = await gather(
            embedded, _certs(ltv.trust_roots), _certs(ltv.other_certs), ltv.cache
        )
    except RevokedError as exc:
        raise CertificateNotUsable(
            f"Сертификат отозван: {exc} (certificate revoked)", reason="revoked"
        ) from exc
    except Exception as exc:  # certvalidator raises a family of path/revocation errors
        if ltv.required:
            raise RevocationInfoUnavailable(
                f"cannot gather revocation information: {type(exc).__name__}: {exc}"
            ) from exc
        logger.warning("B-LT not reached, revocation info unavailable: %s", exc)
        return None
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None, ocsps=ocsps, crls=crls, paths=paths, embed_roots=True
    )
    writer.write_in_place()
    return buf.getvalue()


def catalog_version(pdf: bytes) -> str | None:
    """The catalog ``/Version`` of the newest revision, if any (for checks)."""
    reader = PdfFileReader(BytesIO(pdf))
    ver = reader.root.get("/Version")
    return str(ver).lstrip("/") if isinstance(ver, generic.NameObject) else None
