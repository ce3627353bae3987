# mypy: disallow-untyped-calls=False
"""Report types of a verification: indications, checks, per-signature and document reports."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Indication(StrEnum):
    """Overall indication (ETSI EN 319 102-1 §5.1.3)."""

    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class CheckStatus(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    WARNING = "WARNING"


PASSED, FAILED, WARNING = CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.WARNING

SOURCE_XML_NAME = "source.xml"
FORM_PREFIX = "migdocs-form:"
_DOCUMENT_TYPE_CODE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def root_to_type(local_name: str) -> str:
    """XML root element → document type code (``refusalNotice`` → ``refusal-notice``),
    the convention of :mod:`service.pipeline.xmlinput`; used when no schema validator is given."""
    return re.sub(r"(?<!^)([A-Z])", r"-\1", local_name).lower()


CHECK_TITLES: dict[str, str] = {
    "format": "Формат подписи",
    "integrity": "Целостность",
    "cryptographic_validity": "Криптографическая проверка",
    "certificate_chain": "Цепочка сертификатов",
    "revocation": "Статус отзыва сертификата",
    "timestamp": "Метка времени",
    "signing_time": "Время подписания",
    "coverage": "Охват подписи",
    "modifications": "Изменения после подписания",
    "registered_signatory": "Уполномоченное лицо",
    "file": "Файл",
    "signatures": "Подписи",
    "pdfa": "Идентификация PDF/A",
    "source_xml": "Исходный XML",
    "source_xml_schema": "Схема исходного XML",
    "source_xml_consistency": "Согласованность XML и документа",
    "form_version": "Версия бланка",
    "known_document": "Документ в сервисе",
    "unsigned_bytes": "Неподписанные байты в конце файла",
}
"""Russian headings of the check codes (for pages and the PDF report)."""


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Check:
    """One check behind an indication."""

    code: str
    """Stable English name (``integrity``, ``certificate_chain``, ``registered_signatory`` …)."""
    status: CheckStatus
    """``PASSED``, ``FAILED`` or ``WARNING``."""
    message: str
    """What was found, as a plain Russian sentence."""
    detail: str | None = None
    """Technical detail in English (pyHanko's wording, reason codes), if any."""

    @property
    def title(self) -> str:
        """Russian heading of :attr:`code`."""
        return CHECK_TITLES.get(self.code, self.code)


@dataclass(frozen=True)
class CertificateInfo:
    """The facts of a certificate a verifier needs."""

    subject: str
    """Subject DN, human-readable."""
    issuer: str
    """Issuer DN, human-readable."""
    serial_hex: str
    """Serial number in upper-case hex (as printed in the signature block)."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    sha256: str
    """SHA-256 fingerprint of the DER certificate (hex)."""


@dataclass(frozen=True)
class RegistryQuery:
    """What the registry check asks: was this certificate's holder authorised then?"""

    certificate_der: bytes
    """The signing certificate (DER)."""
    at: datetime
    """Best signing time."""
    claimed_signatory: str | None
    """Signatory id named in the embedded source XML (``header/signatory``), if any."""
    authority: str | None
    """Sending authority stated in the source XML (``header/sender``), if any."""
    document_type: str | None
    """Document type stated by the source XML (root element), if any."""
    now: datetime | None = None
    """Without a proof of existence of the signature, the verification time: the
    signatory must be authorised then as well (a claimed time can be back-dated)."""


@dataclass(frozen=True)
class RegistryFinding:
    """Answer of the registry to a :class:`RegistryQuery`."""

    status: CheckStatus
    """``PASSED`` authorised; ``FAILED`` not; ``WARNING`` could not be decided."""
    message: str
    """Russian sentence for the report."""
    reason: str | None = None
    """Machine reason (``revoked``, ``outside-validity-window``, ``not-registered`` …)."""
    signatory_id: str | None = None
    """The registered signatory the certificate belongs to, if found."""
    authority: str | None = None
    """That signatory's authority."""
    full_name_ru: str | None = None
    """Name as registered."""
    position_ru: str | None = None
    """Position as registered."""
    now_reason: str | None = None
    """When :attr:`RegistryQuery.now` was asked and the signatory is not authorised
    then: the registry's reason (``revoked``, ``outside-validity-window`` …)."""


RegistryLookup = Callable[[RegistryQuery], RegistryFinding]
"""Decides the registry check; :class:`SessionRegistryLookup` is the database one."""


@dataclass(frozen=True)
class KnownDocument:
    """What this service recorded about a document whose bytes it produced."""

    registration_number: str
    """Registration number given at signing."""
    document_type: str
    """``request``, ``response`` or ``refusal-notice``."""
    sender: str
    """Sending authority code."""
    recipient: str
    """Receiving authority code."""
    document_date: str
    """Date of the document (ISO)."""
    signed_at: datetime
    """When the service signed it."""
    form_version: str
    """Version of the blank form it was rendered from."""
    signatory_id: str
    """Registered signatory who signed it."""
    destroyed_at: datetime | None = None
    """When the stored copy was destroyed under the retention rules, if it was."""
    kind: str = "document"
    """What the service issued: ``document``, ``signatory-list`` or
    ``verification-report`` (sealed with the service's own seal)."""
    signed_as: str | None = None
    """Document type the signer had to be authorised for, when it differs from
    :attr:`document_type` (a signatory list is signed by a request signer)."""


KnownDocumentLookup = Callable[[str], KnownDocument | None]
"""SHA-256 (hex) of the uploaded bytes → what the service knows, or ``None``."""

SourceValidator = Callable[[bytes], str]
"""Validates the embedded XML against the schema; returns the document type or raises
an exception whose ``str`` says what is wrong."""


@dataclass(frozen=True)
class SignatoryInfo:
    """The registered signatory behind a signature (from the registry)."""

    signatory_id: str
    """Registry id, e.g. ``KZ-MVD-001``."""
    authority: str | None
    """Authority code the signatory belongs to."""
    full_name_ru: str | None
    """Registered name."""
    position_ru: str | None
    """Registered position."""


@dataclass(frozen=True)
class SignatureReport:
    """Validation of one signature."""

    field_name: str
    """Name of the signature field in the PDF."""
    indication: Indication
    """``TOTAL_PASSED``, ``TOTAL_FAILED`` or ``INDETERMINATE``."""
    sub_indication: str | None
    """ETSI sub-indication (``HASH_FAILURE``, ``NO_CERTIFICATE_CHAIN_FOUND`` …) or ``None``."""
    summary: str
    """One Russian sentence: the conclusion for this signature."""
    signer: CertificateInfo | None
    """The signing certificate, if it could be read."""
    signatory: SignatoryInfo | None
    """The registered signatory the certificate belongs to, if found in the registry."""
    claimed_signing_time: datetime | None
    """Signing time claimed by the signer (CMS ``signing-time``)."""
    timestamp_time: datetime | None
    """Time in the signature timestamp token (PAdES B-T), if any."""
    best_signing_time: datetime | None
    """The timestamp time if the token is valid, else the claimed time."""
    level: str | None
    """PAdES level proven: ``B-B`` (no proof of time), ``B-T`` (a valid timestamp),
    ``B-LT`` (plus revocation data for the chain, checked at the timestamp's time),
    ``B-LTA`` (plus a valid document timestamp over it)."""
    coverage: str | None
    """``ENTIRE_FILE``, ``ENTIRE_REVISION`` (later revisions exist) or
    ``CONTIGUOUS_BLOCK_FROM_START``."""
    modification_level: str | None
    """pyHanko's judgement of later revisions: ``NONE``, ``LTA_UPDATES``, ``FORM_FILLING``,
    ``ANNOTATIONS``, ``OTHER``."""
    changes: tuple[str, ...]
    """What changed after this signature, one Russian sentence each (empty if nothing)."""
    checks: tuple[Check, ...]
    """Every check behind the indication, in a fixed order."""
    proofs_of_existence: tuple[Any, ...] = ()
    """The chain of proofs of existence: the signature timestamp, then the document
    timestamps after it (:class:`.longterm.ProofOfExistence`), oldest first."""


@dataclass(frozen=True)
class SourceXmlInfo:
    """The embedded source XML (associated file ``source.xml``, ``/AFRelationship /Source``)."""

    present: bool
    """The file is embedded."""
    schema_valid: bool | None
    """Valid against the schema; ``None`` = not checked."""
    document_type: str | None
    """Document type from its root element."""
    document_id: str | None
    """Upstream ``header/documentId``."""
    sender: str | None
    """``header/sender`` (authority code)."""
    recipient: str | None
    """``header/recipient`` (authority code)."""
    signatory: str | None
    """``header/signatory`` (signatory id)."""
    sha256: str | None
    """SHA-256 of the embedded bytes."""
    sample: bool = False
    """The XML is a sample blank form's placeholder twin (``sample="true"``)."""
    form_version: str | None = None
    """``formVersion`` of a sample form's XML."""


@dataclass(frozen=True)
class VerificationReport:
    """The whole report for one uploaded file."""

    sha256: str
    """SHA-256 (hex) of the uploaded bytes."""
    size: int
    """Size in bytes."""
    file_kind: str
    """``pdf``, ``not_pdf``, ``damaged_pdf`` or ``encrypted_pdf``."""
    indication: Indication
    """Worst indication over the signatures; ``INDETERMINATE`` when nothing could be verified."""
    sub_indication: str | None
    """Sub-indication of the worst signature, or ``NO_SIGNATURE`` / ``NOT_A_PDF`` /
    ``DAMAGED_PDF`` / ``ENCRYPTED_PDF``."""
    summary: str
    """The conclusion as one Russian sentence."""
    verified_at: datetime
    """When this report was made (UTC)."""
    signature_count: int
    """Number of signatures found."""
    signatures: tuple[SignatureReport, ...]
    """One report per signature, in file order."""
    checks: tuple[Check, ...]
    """Document-level checks (PDF/A, source XML, form version, known to the service)."""
    registration_number: str | None
    """Registration number from the XMP ``dc:identifier``."""
    document_type: str | None
    """Document type (XMP ``dc:type`` or the source XML)."""
    form_version: str | None
    """Version of the blank form the document was rendered from (XMP ``dc:type``)."""
    pdfa: str | None
    """PDF/A identification from the XMP, e.g. ``PDF/A-3U``; ``None`` if absent."""
    page_count: int | None
    """Pages in the latest revision."""
    source_xml: SourceXmlInfo | None
    """The embedded source XML; ``None`` if the file is not a readable PDF."""
    known: KnownDocument | None
    """What this service knows about these exact bytes (``None`` = unknown)."""
    error: str | None = None
    """Why the file could not be read, for ``not_pdf`` / ``damaged_pdf``."""
    sample_form: str | None = None
    """Form version when the file is a sample blank form («ОБРАЗЕЦ»), else ``None``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (datetimes as ISO 8601, enums as their values)."""
        result = _jsonable(self)
        assert isinstance(result, dict)
        result["valid"] = self.indication is Indication.TOTAL_PASSED
        return result


_SCALARS = (str, int, float, bool, type(None))


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _jsonable(value: Any) -> Any:
    # scalars first: they are most of the ~150 values of a report
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        data = {name: _jsonable(getattr(value, name)) for name in _field_names(type(value))}
        if isinstance(value, Check):
            data["title"] = value.title
        return data
    return value
