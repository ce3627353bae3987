# mypy: disallow-untyped-calls=False
"""Verification of signed documents: PDF bytes → a DSS-style report (ETSI EN 319 102-1).

One overall indication per signature — ``TOTAL_PASSED``, ``TOTAL_FAILED`` or
``INDETERMINATE`` — with a sub-indication and the list of checks behind it, each
``PASSED`` / ``FAILED`` / ``WARNING`` with a plain Russian sentence.  On top of pyHanko's
cryptographic validation: the signer was a registered signatory of the stated authority
for that document type at signing time; what changed after signing; and, for the whole
document, PDF/A identification, the embedded source XML and whether this service knows
the document.

Precedence of the per-signature indication (first match wins)::

    CMS unreadable / not a PAdES signature        TOTAL_FAILED   FORMAT_FAILURE
    signed bytes do not match the digest          TOTAL_FAILED   HASH_FAILURE
    signature value does not verify               TOTAL_FAILED   SIG_CRYPTO_FAILURE
    certificate revoked                           TOTAL_FAILED   REVOKED
    no trusted chain / expired without POE / …    INDETERMINATE  pyHanko's sub-indication
    unexplained changes after signing             TOTAL_FAILED   FORMAT_FAILURE
    signer not an authorised signatory            INDETERMINATE  SIG_CONSTRAINTS_FAILURE
    otherwise                                     TOTAL_PASSED

The registry check is a validation constraint of our signature policy; ETSI reports a
failed constraint as ``INDETERMINATE`` / ``SIG_CONSTRAINTS_FAILURE`` (the check itself is
``FAILED``).

Never raises on bad input: a file that is not a PDF, a damaged PDF or a PDF without
signatures gets a report saying so.  Nothing here touches the network
(``allow_fetching=False``); trust roots are parsed once (:class:`TrustRoots`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import pem, x509
from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import text
from sqlalchemy.orm import Session

from . import speedups
from .api import SIGNING_KEY_USAGES
from .errors import SignatoryNotAuthorised, SigningError
from .registry import Authority, Registry, Signatory

speedups.install()
logger = logging.getLogger(__name__)


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
    the convention of :mod:`service.xmlinput`; used when no schema validator is given."""
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
    """PAdES level seen: ``B-B``, ``B-T`` or ``B-LT``."""
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (datetimes as ISO 8601, enums as their values)."""
        result = _jsonable(self)
        assert isinstance(result, dict)
        result["valid"] = self.indication is Indication.TOTAL_PASSED
        return result


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Check):
            data["title"] = value.title
        return data
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- trust roots


class TrustRoots:
    """Parsed trust anchors, shared across verifications (parsing is done once)."""

    def __init__(self, certificates: Iterable[x509.Certificate]) -> None:
        self.certificates: tuple[x509.Certificate, ...] = tuple(certificates)

    @classmethod
    def from_der(cls, ders: Iterable[bytes]) -> TrustRoots:
        return cls(x509.Certificate.load(d) for d in ders)

    @classmethod
    def from_pem_files(cls, paths: Iterable[Path]) -> TrustRoots:
        """Every certificate in the given PEM (or DER) files."""
        certs: list[x509.Certificate] = []
        for path in paths:
            data = Path(path).read_bytes()
            if pem.detect(data):
                certs.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True))
            else:
                certs.append(x509.Certificate.load(data))
        return cls(certs)

    def __len__(self) -> int:
        return len(self.certificates)


def _as_roots(trust_roots: TrustRoots | Iterable[bytes]) -> TrustRoots:
    return trust_roots if isinstance(trust_roots, TrustRoots) else TrustRoots.from_der(trust_roots)


# --------------------------------------------------------------------------- registry


class _SnapshotRegistry(Registry):
    """A :class:`Registry` answering from an in-memory snapshot of the version tables."""

    def __init__(
        self,
        signatories: dict[str, list[Signatory]],
        authorities: dict[str, list[Authority]],
    ) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # never touches a session
        self._signatories = signatories
        self._authorities = authorities
        self.by_certificate: dict[bytes, list[str]] = {}
        for sid, versions in signatories.items():
            for v in versions:
                ids = self.by_certificate.setdefault(v.certificate_der, [])
                if sid not in ids:
                    ids.append(sid)

    def signatory_versions(self, signatory_id: str) -> list[Signatory]:
        return list(self._signatories.get(signatory_id, ()))

    def authority_versions(self, code: str) -> list[Authority]:
        return list(self._authorities.get(code, ()))


_REGISTRY_TOKEN = text(
    "SELECT (SELECT max(id) FROM signatory_versions), (SELECT count(*) FROM signatory_versions),"
    " (SELECT max(id) FROM authority_versions), (SELECT count(*) FROM authority_versions)"
)


class SessionRegistryLookup:
    """The registry check against the signatory registry database.

    Finds the registered signatory by the signing certificate (preferring the id named
    in the source XML), then asks :meth:`Registry.authorised_signatory` whether that
    signatory could sign this document type for the stated authority at signing time,
    and whether the certificate registered for them then was this one.

    The registry is append-only, so the highest row id and row count of its two version
    tables identify its state: one small query per verification checks them, and the
    tables are re-read into memory only when they changed.
    """

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._sessions = session_factory
        self._lock = threading.Lock()
        self._snapshot: tuple[tuple[Any, ...], _SnapshotRegistry] | None = None

    def _registry(self, session: Session) -> _SnapshotRegistry:
        token = tuple(session.execute(_REGISTRY_TOKEN).one())
        snapshot = self._snapshot
        if snapshot is not None and snapshot[0] == token:
            return snapshot[1]
        real = Registry(session)
        signatories = {sid: real.signatory_versions(sid) for sid in real.signatory_ids()}
        authorities = {code: real.authority_versions(code) for code in real.authority_codes()}
        registry = _SnapshotRegistry(signatories, authorities)
        with self._lock:
            self._snapshot = (token, registry)
        return registry

    def __call__(self, query: RegistryQuery) -> RegistryFinding:
        with self._sessions() as session:
            registry = self._registry(session)
        return self._lookup(registry, query)

    def _lookup(self, registry: _SnapshotRegistry, q: RegistryQuery) -> RegistryFinding:
        ids = registry.by_certificate.get(q.certificate_der, [])
        if not ids:
            return RegistryFinding(
                FAILED,
                "Сертификат подписи не зарегистрирован ни за одним уполномоченным лицом "
                "в перечне (signing certificate not in the registry)",
                reason="not-registered",
            )
        if q.claimed_signatory is not None and q.claimed_signatory not in ids:
            return RegistryFinding(
                FAILED,
                f"В документе указан подписант {q.claimed_signatory}, но сертификат подписи "
                f"зарегистрирован за {', '.join(ids)} (certificate belongs to another signatory)",
                reason="certificate-mismatch",
                signatory_id=ids[0],
            )
        sid = q.claimed_signatory or ids[0]
        versions = registry.signatory_versions(sid)
        ref = versions[-1]
        info = {
            "signatory_id": sid,
            "authority": ref.authority_code,
            "full_name_ru": ref.full_name_ru,
            "position_ru": ref.position_ru,
        }
        if q.authority is None or q.document_type is None:
            return RegistryFinding(
                WARNING,
                f"Сертификат принадлежит зарегистрированному подписанту {sid} "
                f"({ref.authority_code}), но орган-отправитель и вид документа неизвестны "
                "(нет исходного XML): полномочия не проверены "
                "(authority/document type unknown)",
                reason="no-source-xml",
                **info,
            )
        when = q.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        try:
            current = registry.authorised_signatory(sid, q.authority, q.document_type, q.at)
        except SignatoryNotAuthorised as exc:
            return RegistryFinding(
                FAILED,
                f"На момент подписания ({when}) подписант не был уполномочен: {exc.message}",
                reason=exc.reason,
                **info,
            )
        except SigningError as exc:
            return RegistryFinding(FAILED, exc.message, reason=exc.reason, **info)
        if current.certificate_der != q.certificate_der:
            return RegistryFinding(
                FAILED,
                f"На момент подписания ({when}) за подписантом {sid} был зарегистрирован "
                "другой сертификат (certificate not the one registered at signing time)",
                reason="certificate-mismatch",
                **info,
            )
        return RegistryFinding(
            PASSED,
            f"{current.full_name_ru} ({current.position_ru}, {current.authority_code}) на "
            f"момент подписания ({when}) был уполномочен подписывать документы вида "
            f"«{q.document_type}» от имени {q.authority}",
            signatory_id=sid,
            authority=current.authority_code,
            full_name_ru=current.full_name_ru,
            position_ru=current.position_ru,
        )


# --------------------------------------------------------------------------- document facts


@dataclass
class _Xmp:
    pdfa_part: str | None = None
    pdfa_conformance: str | None = None
    identifier: str | None = None
    types: list[str] = field(default_factory=list)


_XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
}


def _safe_xml(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


def _read_xmp(reader: PdfFileReader) -> _Xmp:
    xmp = _Xmp()
    try:
        meta = reader.root.get("/Metadata")
        data = meta.get_object().data if meta is not None else None
    except Exception:  # unreadable metadata stream = no metadata
        return xmp
    root = _safe_xml(data) if isinstance(data, bytes) else None
    if root is None:
        return xmp
    pdfaid = "{" + _XMP_NS["pdfaid"] + "}"
    dc = "{" + _XMP_NS["dc"] + "}"
    rdf = "{" + _XMP_NS["rdf"] + "}"
    for desc in root.iter(rdf + "Description"):
        for attr, value in desc.attrib.items():
            if attr == pdfaid + "part":
                xmp.pdfa_part = value
            elif attr == pdfaid + "conformance":
                xmp.pdfa_conformance = value
    for name in ("part", "conformance"):
        for elem in root.iter(pdfaid + name):
            setattr(xmp, f"pdfa_{name}", (elem.text or "").strip() or None)
    for desc in root.iter(rdf + "Description"):
        if desc.get(dc + "identifier", "").strip():
            xmp.identifier = desc.get(dc + "identifier", "").strip()
    for elem in root.iter(dc + "identifier"):
        items = [li.text for li in elem.iter(rdf + "li")]
        text = (items[0] if items else elem.text) or ""
        if text.strip():
            xmp.identifier = text.strip()
    for elem in root.iter(dc + "type"):
        xmp.types.extend((li.text or "").strip() for li in elem.iter(rdf + "li") if li.text)
    return xmp


def _deref(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, generic.PdfObject) else obj


def _embedded_source_xml(reader: PdfFileReader) -> bytes | None:
    """The associated file named ``source.xml`` with ``/AFRelationship /Source``."""
    try:
        candidates: list[Any] = []
        af = _deref(reader.root.raw_get("/AF")) if "/AF" in reader.root else None
        if isinstance(af, list):
            candidates.extend(af)
        names = _deref(reader.root.raw_get("/Names")) if "/Names" in reader.root else None
        if isinstance(names, generic.DictionaryObject) and "/EmbeddedFiles" in names:
            tree = _deref(names.raw_get("/EmbeddedFiles"))
            flat = _deref(tree.raw_get("/Names")) if "/Names" in tree else None
            if isinstance(flat, list):
                candidates.extend(list(flat)[1::2])
        for ref in candidates:
            spec = _deref(ref)
            if not isinstance(spec, generic.DictionaryObject):
                continue
            name = str(spec.get("/UF") or spec.get("/F") or "")
            if name != SOURCE_XML_NAME or spec.get("/AFRelationship") != "/Source":
                continue
            stream = _deref(_deref(spec.raw_get("/EF")).raw_get("/F"))
            return bytes(stream.data)
    except Exception:  # a damaged name tree is reported as "no source XML"
        return None
    return None


def _source_facts(
    data: bytes | None, validator: SourceValidator | None
) -> tuple[SourceXmlInfo, str | None]:
    """Facts of the embedded XML and the schema-validation error (if any)."""
    if data is None:
        return SourceXmlInfo(False, None, None, None, None, None, None, None), None
    digest = hashlib.sha256(data).hexdigest()
    root = _safe_xml(data)
    if root is None or not isinstance(root.tag, str):
        return (
            SourceXmlInfo(True, False, None, None, None, None, None, digest),
            "the embedded XML is not well-formed",
        )
    local = etree.QName(root).localname
    header: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).localname == "header":
            for item in child:
                if isinstance(item.tag, str):
                    header[etree.QName(item).localname] = (item.text or "").strip()
    schema_valid: bool | None = None
    error: str | None = None
    doc_type: str | None = root_to_type(local)
    if validator is not None:
        try:
            doc_type = validator(data)
            schema_valid = True
        except Exception as exc:  # the validator's own error type: report its message
            schema_valid = False
            error = str(exc).strip() or type(exc).__name__
    return (
        SourceXmlInfo(
            present=True,
            schema_valid=schema_valid,
            document_type=doc_type,
            document_id=header.get("documentId", "").lower() or None,
            sender=header.get("sender") or None,
            recipient=header.get("recipient") or None,
            signatory=header.get("signatory") or None,
            sha256=digest,
        ),
        error,
    )


def _page_refs(root: Any) -> list[generic.Reference]:
    """Page object references in page order (walks the page tree of one revision)."""
    result: list[generic.Reference] = []

    def walk(node_ref: Any, depth: int) -> None:
        if depth > 64:
            return
        node = node_ref.get_object()
        if node.get("/Type") == "/Pages":
            for kid in node.get("/Kids", ()):
                walk(kid, depth + 1)
        elif isinstance(node_ref, generic.IndirectObject):
            result.append(node_ref.reference)

    walk(root.raw_get("/Pages"), 0)
    return result


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def describe_changes(reader: PdfFileReader, signed_revision: int) -> tuple[str, ...]:
    """What the revisions after ``signed_revision`` changed, in Russian sentences."""
    total = reader.xrefs.total_revisions
    if signed_revision >= total - 1:
        return ()
    try:
        before = reader.get_historical_resolver(signed_revision)
        pages_before = _page_refs(before.root)
        pages_after = _page_refs(reader.root)
        changed: set[generic.Reference] = set()
        for revision in range(signed_revision + 1, total):
            changed |= set(reader.xrefs.explicit_refs_in_revision(revision))
    except Exception as exc:  # never let the description break the report
        return (f"Изменения не удалось описать ({type(exc).__name__})",)
    out: list[str] = [f"Ревизий после подписания: {total - 1 - signed_revision}"]
    added = [i + 1 for i, ref in enumerate(pages_after) if ref not in set(pages_before)]
    removed = [i + 1 for i, ref in enumerate(pages_before) if ref not in set(pages_after)]
    if added:
        out.append(
            f"Добавлен{'а' if len(added) == 1 else 'ы'} "
            f"{_plural(len(added), 'страница', 'страницы', 'страниц')} № "
            f"{', '.join(map(str, added))} (страниц при подписании: {len(pages_before)}, "
            f"сейчас: {len(pages_after)})"
        )
    if removed:
        out.append(
            f"Удален{'а' if len(removed) == 1 else 'ы'} "
            f"{_plural(len(removed), 'страница', 'страницы', 'страниц')} № "
            f"{', '.join(map(str, removed))} подписанной версии"
        )
    kept = {ref: i + 1 for i, ref in enumerate(pages_after) if ref in set(pages_before)}
    content_of: dict[generic.Reference, int] = {}
    new_parts: set[generic.Reference] = set()
    for ref in pages_after:
        try:
            page = before(ref) if ref in kept else reader.get_object(ref)
            contents = page.raw_get("/Contents")
        except Exception:
            continue
        items = contents if isinstance(contents, generic.ArrayObject) else [contents]
        for item in items:
            if isinstance(item, generic.IndirectObject):
                if ref in kept:
                    content_of[item.reference] = kept[ref]
                else:
                    new_parts.add(item.reference)
    modified_pages = sorted(
        {kept[r] for r in changed if r in kept}
        | {content_of[r] for r in changed if r in content_of}
    )
    annots: dict[str, int] = {}
    kinds: set[str] = set()
    other = 0
    for ref in sorted(changed, key=lambda r: r.idnum):
        if ref in kept or ref in content_of or ref in new_parts or ref in set(pages_after):
            continue
        try:
            obj = reader.get_object(ref)
        except Exception:
            other += 1
            continue
        if not isinstance(obj, generic.DictionaryObject):
            other += 1
            continue
        typ = obj.get("/Type")
        if typ in ("/Catalog", "/Pages", "/XRef", "/ObjStm"):
            continue
        if typ in ("/Sig", "/DocTimeStamp") or (obj.get("/FT") == "/Sig" and typ != "/Annot"):
            kinds.add("добавлена подпись или метка времени")
        elif typ == "/Annot" or ("/Subtype" in obj and "/Rect" in obj):
            subtype = str(obj.get("/Subtype", "?")).lstrip("/")
            if subtype == "Widget" and obj.get("/FT") == "/Sig":
                kinds.add("добавлено поле подписи")
            else:
                annots[subtype] = annots.get(subtype, 0) + 1
        elif typ == "/Metadata":
            kinds.add("обновлены метаданные XMP")
        elif typ == "/EmbeddedFile" or typ == "/Filespec":
            kinds.add("изменены вложенные файлы")
        elif "/VRI" in obj or "/OCSPs" in obj or "/CRLs" in obj:
            kinds.add("добавлены данные для долгосрочной проверки (DSS)")
        elif "/Fields" in obj:
            kinds.add("изменена интерактивная форма")
        else:
            other += 1
    if modified_pages:
        out.append(f"Изменено содержимое страниц № {', '.join(map(str, modified_pages))}")
    for subtype, n in sorted(annots.items()):
        out.append(f"Добавлены или изменены аннотации {subtype}: {n}")
    out.extend(sorted(kinds))
    if other:
        out.append(f"Прочих изменённых объектов: {other}")
    return tuple(s[0].upper() + s[1:] for s in out)


# --------------------------------------------------------------------------- signatures


def _cert_info(cert: x509.Certificate) -> CertificateInfo:
    validity = cert["tbs_certificate"]["validity"]
    return CertificateInfo(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial_hex=format(cert.serial_number, "X"),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        sha256=hashlib.sha256(cert.dump()).hexdigest(),
    )


def _fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _has_revocation_pointers(cert: x509.Certificate) -> bool:
    return bool(cert.crl_distribution_points or cert.ocsp_urls)


def _dss_revinfo(reader: PdfFileReader) -> tuple[list[Any], list[Any], list[x509.Certificate]]:
    """OCSP responses, CRLs and certificates from the document security store (B-LT)."""
    from asn1crypto import crl, ocsp

    dss = reader.root.get("/DSS")
    if dss is None:
        return [], [], []
    dss = dss.get_object()
    ocsps = [ocsp.OCSPResponse.load(r.get_object().data) for r in dss.get("/OCSPs", ())]
    crls = [crl.CertificateList.load(r.get_object().data) for r in dss.get("/CRLs", ())]
    certs = [x509.Certificate.load(r.get_object().data) for r in dss.get("/Certs", ())]
    return ocsps, crls, certs


_FAILURE_TEXT = {
    "HASH_FAILURE": "подписанные данные изменены после подписания",
    "SIG_CRYPTO_FAILURE": "значение подписи не соответствует ключу сертификата",
    "REVOKED": "сертификат подписанта отозван",
    "FORMAT_FAILURE": "документ изменён после подписания или подпись имеет неверный формат",
    "NO_CERTIFICATE_CHAIN_FOUND": "сертификат подписанта выдан не доверенным удостоверяющим "
    "центром",
    "OUT_OF_BOUNDS_NO_POE": "сертификат не действовал на момент проверки, а доказательства "
    "подписания в срок его действия (метки времени) нет",
    "OUT_OF_BOUNDS_NOT_REVOKED": "сертификат не действовал на момент проверки",
    "SIG_CONSTRAINTS_FAILURE": "подписант не был уполномоченным лицом на момент подписания",
    "REVOKED_NO_POE": "сертификат отозван, а доказательства подписания до отзыва нет",
    "CHAIN_CONSTRAINTS_FAILURE": "цепочка сертификатов не удовлетворяет требованиям",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "цепочку сертификатов проверить не удалось",
}


def _summary(indication: Indication, sub: str | None) -> str:
    if indication is Indication.TOTAL_PASSED:
        return "Подпись действительна"
    reason = _FAILURE_TEXT.get(sub or "", sub or "причина не установлена")
    if indication is Indication.TOTAL_FAILED:
        return f"Подпись недействительна: {reason}"
    return f"Действительность подписи не подтверждена: {reason}"


@dataclass(frozen=True)
class _Context:
    roots: TrustRoots
    registry_lookup: RegistryLookup | None
    now: datetime | None
    source: SourceXmlInfo
    dss: tuple[list[Any], list[Any], list[x509.Certificate]]


def _failed_format(field_name: str, message: str, detail: str) -> SignatureReport:
    check = Check("format", FAILED, message, detail)
    return SignatureReport(
        field_name=field_name,
        indication=Indication.TOTAL_FAILED,
        sub_indication="FORMAT_FAILURE",
        summary=_summary(Indication.TOTAL_FAILED, "FORMAT_FAILURE"),
        signer=None,
        signatory=None,
        claimed_signing_time=None,
        timestamp_time=None,
        best_signing_time=None,
        level=None,
        coverage=None,
        modification_level=None,
        changes=(),
        checks=(check,),
    )


async def _verify_signature(reader: PdfFileReader, sig: Any, ctx: _Context) -> SignatureReport:
    field_name = str(sig.field_name)
    try:
        sig.signer_cert  # noqa: B018 - forces the CMS to be parsed
    except Exception as exc:
        return _failed_format(
            field_name,
            "Подпись не удалось прочитать: структура CMS повреждена",
            f"{type(exc).__name__}: {exc}",
        )
    ocsps, crls, dss_certs = ctx.dss
    vc_kwargs: dict[str, Any] = {
        "trust_roots": list(ctx.roots.certificates),
        "allow_fetching": False,
        "other_certs": dss_certs,
        "ocsps": ocsps,
        "crls": crls,
    }
    if ctx.now is not None:
        vc_kwargs["moment"] = ctx.now
    vc = ValidationContext(**vc_kwargs)
    ts_vc = ValidationContext(**vc_kwargs)
    try:
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=vc,
            ts_validation_context=ts_vc,
            key_usage_settings=KeyUsageConstraints(
                key_usage=set(SIGNING_KEY_USAGES), match_all_key_usages=False
            ),
        )
    except Exception as exc:  # pyHanko raises many types on malformed signatures
        return _failed_format(
            field_name,
            "Подпись не удалось проверить: неверный формат подписи",
            f"{type(exc).__name__}: {exc}",
        )
    finally:
        await vc.aclose()
        await ts_vc.aclose()

    checks: list[Check] = []
    cert = status.signing_cert
    signer = _cert_info(cert)
    subfilter = str(sig.sig_object.get("/SubFilter", ""))
    if subfilter == "/ETSI.CAdES.detached":
        checks.append(Check("format", PASSED, "Подпись в формате PAdES (ETSI.CAdES.detached)"))
    else:
        checks.append(
            Check(
                "format",
                WARNING,
                f"Подпись не в формате PAdES, а {subfilter.lstrip('/') or 'без /SubFilter'}",
            )
        )
    intact, valid = bool(status.intact), bool(status.valid)
    checks.append(
        Check("integrity", PASSED, "Подписанные данные не изменены: хеш совпадает")
        if intact
        else Check(
            "integrity",
            FAILED,
            "Подписанные данные изменены: хеш документа не совпадает с подписанным",
            "message digest mismatch",
        )
    )
    if not intact:
        checks.append(Check("cryptographic_validity", WARNING, "Не проверялась: данные изменены"))
    elif valid:
        checks.append(
            Check(
                "cryptographic_validity",
                PASSED,
                f"Значение подписи верно ({status.md_algorithm.upper()}, "
                f"{cert.public_key.algorithm.upper()})",
            )
        )
    else:
        checks.append(
            Check(
                "cryptographic_validity",
                FAILED,
                "Значение подписи не соответствует открытому ключу сертификата",
                "signature value does not verify",
            )
        )

    trusted = bool(status.trusted)
    problem = status.trust_problem_indic
    problem_name: str | None = getattr(problem, "name", None) if problem is not None else None
    revoked = status.revocation_details is not None or problem_name in ("REVOKED",)
    if trusted:
        path = status.validation_path
        anchor = path.trust_anchor.authority.name.human_friendly if path is not None else "?"
        checks.append(
            Check("certificate_chain", PASSED, f"Сертификат выдан доверенным центром: {anchor}")
        )
    elif revoked:
        checks.append(Check("certificate_chain", PASSED, "Цепочка до доверенного центра построена"))
    else:
        checks.append(
            Check(
                "certificate_chain",
                FAILED if problem_name == "NO_CERTIFICATE_CHAIN_FOUND" else WARNING,
                _FAILURE_TEXT.get(problem_name or "", "Сертификат не подтверждён")[0].upper()
                + _FAILURE_TEXT.get(problem_name or "", "сертификат не подтверждён")[1:]
                + f" (издатель: {signer.issuer})",
                problem_name,
            )
        )

    if revoked:
        rd = status.revocation_details
        when = f" с {_fmt(rd.revocation_date)}" if rd is not None else ""
        checks.append(Check("revocation", FAILED, f"Сертификат отозван{when}", "REVOKED"))
    elif not _has_revocation_pointers(cert):
        checks.append(
            Check(
                "revocation",
                WARNING,
                "Сертификат не содержит адресов CRL/OCSP: статус отзыва проверить нельзя",
                "no CRL distribution points or OCSP URLs",
            )
        )
    elif ocsps or crls:
        checks.append(
            Check(
                "revocation",
                PASSED,
                "Сертификат не отозван (по сведениям об отзыве, встроенным в документ)",
            )
        )
    else:
        checks.append(
            Check(
                "revocation",
                WARNING,
                "Сведений об отзыве в документе нет, онлайн-запросы не выполняются: статус "
                "отзыва не проверен",
                "no embedded revocation info; fetching disabled",
            )
        )

    ts = status.timestamp_validity
    ts_ok = bool(ts is not None and ts.intact and ts.valid and ts.trusted)
    if ts is None:
        checks.append(
            Check(
                "timestamp",
                WARNING,
                "Метки времени нет (PAdES B-B): время подписания заявлено подписантом",
            )
        )
    elif ts_ok:
        checks.append(
            Check("timestamp", PASSED, f"Метка времени действительна: {_fmt(ts.timestamp)}")
        )
    else:
        checks.append(
            Check(
                "timestamp",
                FAILED if not (ts.intact and ts.valid) else WARNING,
                f"Метка времени ({_fmt(ts.timestamp)}) не подтверждена: "
                + ("повреждена" if not (ts.intact and ts.valid) else "TSA не доверенная"),
            )
        )
    claimed = status.signer_reported_dt
    best = ts.timestamp if ts_ok and ts is not None else claimed
    if best is None:
        checks.append(Check("signing_time", WARNING, "Время подписания не указано"))
    elif ts_ok:
        checks.append(Check("signing_time", PASSED, f"{_fmt(best)} (по метке времени)"))
    else:
        checks.append(Check("signing_time", PASSED, f"{_fmt(best)} (заявлено подписантом)"))

    coverage = status.coverage.name if status.coverage is not None else None
    if coverage == "ENTIRE_FILE":
        checks.append(Check("coverage", PASSED, "Подпись охватывает весь файл"))
    elif coverage == "ENTIRE_REVISION":
        checks.append(
            Check(
                "coverage",
                PASSED,
                "Подпись охватывает всю подписанную ревизию; после неё в файл дописаны "
                "изменения (см. «Изменения после подписания»)",
            )
        )
    else:
        checks.append(
            Check(
                "coverage",
                FAILED,
                "Подпись охватывает только часть файла",
                coverage,
            )
        )

    level = status.modification_level
    level_name = level.name if level is not None else None
    changes = describe_changes(reader, sig.signed_revision) if coverage != "ENTIRE_FILE" else ()
    diff = status.diff_result
    diff_detail = (
        str(diff).split("\n")[0][:300] if isinstance(diff, SuspiciousModification) else None
    )
    unexplained = level is not None and level is ModificationLevel.OTHER
    if coverage == "ENTIRE_FILE" or level is ModificationLevel.NONE:
        checks.append(Check("modifications", PASSED, "После подписания документ не изменялся"))
    elif level is ModificationLevel.LTA_UPDATES:
        checks.append(
            Check(
                "modifications",
                PASSED,
                "После подписания добавлены только данные для проверки (DSS, метки времени): "
                + "; ".join(changes[1:]),
            )
        )
    elif level is ModificationLevel.FORM_FILLING:
        checks.append(
            Check(
                "modifications",
                PASSED,
                "После подписания добавлены только подписи и поля форм: " + "; ".join(changes[1:]),
            )
        )
    elif level is ModificationLevel.ANNOTATIONS:
        checks.append(
            Check(
                "modifications",
                WARNING,
                "После подписания добавлены аннотации (текст документа не изменён): "
                + "; ".join(changes[1:]),
            )
        )
    else:
        checks.append(
            Check(
                "modifications",
                FAILED,
                "После подписания документ изменён недопустимым образом: "
                + ("; ".join(changes[1:]) or "см. подробности"),
                diff_detail,
            )
        )

    # registry check at the best signing time
    signatory: SignatoryInfo | None = None
    registry_failed = False
    if ctx.registry_lookup is None:
        checks.append(Check("registered_signatory", WARNING, "Перечень подписантов недоступен"))
    elif best is None:
        checks.append(
            Check(
                "registered_signatory",
                WARNING,
                "Время подписания неизвестно: полномочия проверить нельзя",
            )
        )
    else:
        try:
            finding = ctx.registry_lookup(
                RegistryQuery(
                    certificate_der=cert.dump(),
                    at=best,
                    claimed_signatory=ctx.source.signatory,
                    authority=ctx.source.sender,
                    document_type=ctx.source.document_type,
                )
            )
        except Exception as exc:  # registry down: say so, never crash the report
            logger.exception("registry lookup failed")
            finding = RegistryFinding(
                WARNING,
                "Перечень подписантов недоступен: полномочия не проверены",
                reason=type(exc).__name__,
            )
        checks.append(
            Check("registered_signatory", finding.status, finding.message, finding.reason)
        )
        registry_failed = finding.status is FAILED
        if finding.signatory_id is not None:
            signatory = SignatoryInfo(
                finding.signatory_id, finding.authority, finding.full_name_ru, finding.position_ru
            )

    if not intact:
        indication, sub = Indication.TOTAL_FAILED, "HASH_FAILURE"
    elif not valid:
        indication, sub = Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE"
    elif revoked:
        indication, sub = Indication.TOTAL_FAILED, "REVOKED"
    elif not trusted:
        indication, sub = (
            Indication.INDETERMINATE,
            problem_name or "CERTIFICATE_CHAIN_GENERAL_FAILURE",
        )
    elif unexplained or coverage not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
        indication, sub = Indication.TOTAL_FAILED, "FORMAT_FAILURE"
    elif registry_failed:
        indication, sub = Indication.INDETERMINATE, "SIG_CONSTRAINTS_FAILURE"
    else:
        indication, sub = Indication.TOTAL_PASSED, None

    summary = _summary(indication, sub)
    if sub == "FORMAT_FAILURE" and unexplained:
        summary = "Подпись недействительна: документ изменён после подписания недопустимым образом"
    has_dss = bool(ocsps or crls)
    level_seen = "B-LT" if ts is not None and has_dss else "B-T" if ts is not None else "B-B"
    return SignatureReport(
        field_name=field_name,
        indication=indication,
        sub_indication=sub,
        summary=summary,
        signer=signer,
        signatory=signatory,
        claimed_signing_time=claimed,
        timestamp_time=ts.timestamp if ts is not None else None,
        best_signing_time=best,
        level=level_seen,
        coverage=coverage,
        modification_level=level_name,
        changes=changes,
        checks=tuple(checks),
    )


# --------------------------------------------------------------------------- document


_SEVERITY = {Indication.TOTAL_FAILED: 2, Indication.INDETERMINATE: 1, Indication.TOTAL_PASSED: 0}


def _unreadable(
    pdf: bytes, digest: str, now: datetime, kind: str, sub: str, summary: str, error: str
) -> VerificationReport:
    return VerificationReport(
        sha256=digest,
        size=len(pdf),
        file_kind=kind,
        indication=Indication.INDETERMINATE,
        sub_indication=sub,
        summary=summary,
        verified_at=now,
        signature_count=0,
        signatures=(),
        checks=(Check("file", FAILED, summary, error),),
        registration_number=None,
        document_type=None,
        form_version=None,
        pdfa=None,
        page_count=None,
        source_xml=None,
        known=None,
        error=error,
    )


def _sniff(pdf: bytes) -> str | None:
    """What the bytes are, if recognisably not a PDF."""
    head = pdf[:16]
    for magic, name in (
        (b"\xff\xd8\xff", "изображение JPEG"),
        (b"\x89PNG", "изображение PNG"),
        (b"PK\x03\x04", "архив ZIP (или документ Office)"),
        (b"GIF8", "изображение GIF"),
        (b"<?xml", "XML-документ"),
    ):
        if head.startswith(magic):
            return name
    return None


async def async_verify_document(
    pdf: bytes,
    *,
    trust_roots: TrustRoots | Iterable[bytes],
    registry_lookup: RegistryLookup | None,
    known_document_lookup: KnownDocumentLookup | None = None,
    source_validator: SourceValidator | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Async :func:`verify_document`."""
    roots = _as_roots(trust_roots)
    verified_at = (now or datetime.now(UTC)).astimezone(UTC)
    digest = hashlib.sha256(pdf).hexdigest()
    known: KnownDocument | None = None
    if known_document_lookup is not None:
        try:
            known = known_document_lookup(digest)
        except Exception:  # database trouble must not hide the signature result
            logger.exception("known-document lookup failed")
    if b"%PDF-" not in pdf[:1024]:
        what = _sniff(pdf)
        summary = (
            f"Файл не является документом PDF: это {what}"
            if what
            else "Файл не является документом PDF (нет заголовка %PDF-)"
        )
        return _unreadable(
            pdf, digest, verified_at, "not_pdf", "NOT_A_PDF", summary, "no %PDF- header"
        )
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        if reader.encrypted:
            return _unreadable(
                pdf,
                digest,
                verified_at,
                "encrypted_pdf",
                "ENCRYPTED_PDF",
                "Документ PDF зашифрован: проверка невозможна",
                "encrypted",
            )
        embedded = list(reader.embedded_signatures)
        count = reader.root["/Pages"]["/Count"]
        page_count = int(count) if isinstance(count, int) else None
    except Exception as exc:  # damaged structure: any pyHanko/parser error
        return _unreadable(
            pdf,
            digest,
            verified_at,
            "damaged_pdf",
            "DAMAGED_PDF",
            "Файл PDF повреждён и не может быть прочитан",
            f"{type(exc).__name__}: {exc}"[:500],
        )

    xmp = _read_xmp(reader)
    source, schema_error = _source_facts(_embedded_source_xml(reader), source_validator)
    try:
        dss = _dss_revinfo(reader)
    except Exception:  # a broken DSS is ignored: validation then runs without it
        dss = ([], [], [])
    ctx = _Context(roots, registry_lookup, now, source, dss)
    signatures = tuple([await _verify_signature(reader, sig, ctx) for sig in embedded])

    form_version = next(
        (t.removeprefix(FORM_PREFIX) for t in xmp.types if t.startswith(FORM_PREFIX)), None
    )
    # the renderer writes the document type code first in the dc:type bag
    xmp_type = xmp.types[0] if xmp.types and _DOCUMENT_TYPE_CODE.match(xmp.types[0]) else None
    document_type = source.document_type or xmp_type
    checks = _document_checks(signatures, xmp, source, schema_error, xmp_type, form_version, known)

    sub: str | None
    if not signatures:
        indication, sub = Indication.INDETERMINATE, "NO_SIGNATURE"
        summary = "В документе нет электронной подписи"
    else:
        worst = max(signatures, key=lambda s: _SEVERITY[s.indication])
        indication, sub = worst.indication, worst.sub_indication
        n = len(signatures)
        if indication is Indication.TOTAL_PASSED:
            summary = "Подпись действительна" if n == 1 else f"Все подписи ({n}) действительны"
        else:
            summary = worst.summary if n == 1 else f"{worst.field_name}: {worst.summary}"
    pdfa = f"PDF/A-{xmp.pdfa_part}{(xmp.pdfa_conformance or '').upper()}" if xmp.pdfa_part else None
    return VerificationReport(
        sha256=digest,
        size=len(pdf),
        file_kind="pdf",
        indication=indication,
        sub_indication=sub,
        summary=summary,
        verified_at=verified_at,
        signature_count=len(signatures),
        signatures=signatures,
        checks=checks,
        registration_number=xmp.identifier
        if xmp.identifier and not xmp.identifier.startswith("urn:")
        else None,
        document_type=document_type,
        form_version=form_version,
        pdfa=pdfa,
        page_count=page_count,
        source_xml=source,
        known=known,
    )


def _document_checks(
    signatures: Sequence[SignatureReport],
    xmp: _Xmp,
    source: SourceXmlInfo,
    schema_error: str | None,
    xmp_type: str | None,
    form_version: str | None,
    known: KnownDocument | None,
) -> tuple[Check, ...]:
    checks: list[Check] = []
    n = len(signatures)
    checks.append(
        Check("signatures", PASSED, f"Подписей в документе: {n}")
        if n
        else Check("signatures", WARNING, "В документе нет электронной подписи")
    )
    if xmp.pdfa_part:
        ident = f"PDF/A-{xmp.pdfa_part}{(xmp.pdfa_conformance or '').upper()}"
        checks.append(
            Check(
                "pdfa", PASSED if xmp.pdfa_part == "3" else WARNING, f"Документ заявлен как {ident}"
            )
        )
    else:
        checks.append(Check("pdfa", WARNING, "Идентификация PDF/A в метаданных XMP отсутствует"))

    if not source.present:
        checks.append(
            Check("source_xml", WARNING, "Исходный XML-документ (source.xml) не вложен в PDF")
        )
    else:
        checks.append(
            Check(
                "source_xml",
                PASSED,
                "Исходный XML-документ вложен как связанный файл source.xml (/Source)",
            )
        )
        if source.schema_valid is None and schema_error is None:
            checks.append(Check("source_xml_schema", WARNING, "Соответствие схеме не проверялось"))
        elif source.schema_valid:
            checks.append(Check("source_xml_schema", PASSED, "Исходный XML соответствует схеме"))
        else:
            checks.append(
                Check(
                    "source_xml_schema",
                    FAILED,
                    "Исходный XML не соответствует схеме",
                    (schema_error or "")[:500] or None,
                )
            )
        problems: list[str] = []
        reg = xmp.identifier
        if not reg or reg.startswith("urn:"):
            problems.append("регистрационный номер в метаданных (dc:identifier) отсутствует")
        elif source.sender and not reg.startswith(f"{source.sender}-"):
            problems.append(
                f"регистрационный номер {reg} не принадлежит отправителю {source.sender}"
            )
        if source.document_id and xmp.types and f"urn:uuid:{source.document_id}" not in xmp.types:
            problems.append("идентификатор документа в XML не совпадает с метаданными")
        if xmp_type and source.document_type and xmp_type != source.document_type:
            problems.append(
                f"вид документа в XML ({source.document_type}) не совпадает с метаданными "
                f"({xmp_type})"
            )
        if known is not None and reg and known.registration_number != reg:
            problems.append(
                f"сервис зарегистрировал документ под номером {known.registration_number}"
            )
        if problems:
            checks.append(Check("source_xml_consistency", FAILED, "; ".join(problems).capitalize()))
        else:
            checks.append(
                Check(
                    "source_xml_consistency",
                    PASSED,
                    f"XML согласован с документом: рег. № {reg}, отправитель {source.sender}, "
                    f"вид «{source.document_type}»",
                )
            )
    checks.append(
        Check("form_version", PASSED, f"Документ оформлен по бланку версии {form_version}")
        if form_version
        else Check("form_version", WARNING, "Версия бланка в метаданных не указана")
    )
    if known is None:
        checks.append(
            Check(
                "known_document",
                WARNING,
                "Сервису этот файл неизвестен: он не выпускал документ с такой хеш-суммой "
                "(документ мог быть изменён или выпущен другой системой)",
            )
        )
    elif known.destroyed_at is not None:
        checks.append(
            Check(
                "known_document",
                PASSED,
                f"Документ выпущен сервисом (рег. № {known.registration_number}); хранимая "
                f"копия уничтожена {known.destroyed_at:%Y-%m-%d}",
            )
        )
    else:
        checks.append(
            Check(
                "known_document",
                PASSED,
                f"Документ выпущен этим сервисом: рег. № {known.registration_number}, подписан "
                f"{_fmt(known.signed_at)}; файл совпадает с хранимым байт в байт",
            )
        )
    return tuple(checks)


def verify_document(
    pdf: bytes,
    *,
    trust_roots: TrustRoots | Iterable[bytes],
    registry_lookup: RegistryLookup | None,
    known_document_lookup: KnownDocumentLookup | None = None,
    source_validator: SourceValidator | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Verify every signature in ``pdf`` and describe the document; never raises on input.

    :param trust_roots: the countries' root CAs (:class:`TrustRoots`, or DER bytes).
    :param registry_lookup: decides the registered-signatory check
        (:class:`SessionRegistryLookup`); ``None`` = reported as not checked.
    :param known_document_lookup: SHA-256 → what this service recorded, if anything.
    :param source_validator: schema validation of the embedded XML (the service passes
        its own); ``None`` = reported as not checked.
    :param now: validation time (default: now).
    """
    return asyncio.run(
        async_verify_document(
            pdf,
            trust_roots=trust_roots,
            registry_lookup=registry_lookup,
            known_document_lookup=known_document_lookup,
            source_validator=source_validator,
            now=now,
        )
    )


EXIT_CODES = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1, Indication.INDETERMINATE: 2}
"""CLI exit code by overall indication (no signature / not a PDF = ``INDETERMINATE``)."""
