# mypy: disallow-untyped-calls=False
"""Verification of one uploaded file: every signature plus document-level checks."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader

from .facts import _embedded_source_xml, _read_xmp, _source_facts, _Xmp
from .report import (
    _DOCUMENT_TYPE_CODE,
    FAILED,
    FORM_PREFIX,
    PASSED,
    WARNING,
    Check,
    Indication,
    KnownDocument,
    KnownDocumentLookup,
    RegistryLookup,
    SignatureReport,
    SourceValidator,
    SourceXmlInfo,
    VerificationReport,
)
from .signature import _Context, _dss_revinfo, _fmt, _verify_signature
from .trust import TrustRoots, _as_roots
from .verdict import _SEVERITY

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- document


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
