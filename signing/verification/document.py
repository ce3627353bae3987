# mypy: disallow-untyped-calls=False
"""Verification of one uploaded file: every signature plus document-level checks."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from ..errors import MalformedPdfStructure, VerificationBudgetExceeded
from ..loops import run_sync
from ..untrusted import untrusted_reader
from .ambiguity import SENTENCE as AMBIGUOUS
from .ambiguity import duplicate_keys
from .changes import unsigned_changes
from .checks import Context, SignedFacts
from .deadline import hard_deadline
from .document_checks import document_checks
from .facts import _embedded_source_xml, _read_xmp, _source_facts
from .longterm import document_timestamps, is_document_timestamp
from .report import (
    _DOCUMENT_TYPE_CODE,
    FAILED,
    FORM_PREFIX,
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
from .signature import dss_revinfo, failed_format, verify_signature
from .structure import (
    Budget,
    Coverage,
    FileLayout,
    SigField,
    check_byte_range,
    check_parser_streams,
    check_trees,
    signature_fields,
)
from .tail_bytes import unread_tail_bytes
from .trust import TrustRoots, _as_roots
from .verdict import worst

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
    budget: Budget | None = None,
    own_seal: bytes | None = None,
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
    job = _Job(
        pdf, digest, verified_at, now, roots, registry_lookup, source_validator, known, own_seal
    )
    budget = budget or Budget()
    try:
        with hard_deadline(budget.seconds + HARD_DEADLINE_GRACE):
            return await job.run(budget)
    except (VerificationBudgetExceeded, MalformedPdfStructure) as exc:
        # the one place where exceeded budgets and impossible structures become a report
        return _unreadable(
            pdf,
            digest,
            verified_at,
            "damaged_pdf",
            "DAMAGED_PDF",
            f"Файл PDF не может быть проверен: {exc.message}",
            f"{exc.code}: {exc.reason}",
        )
    except Exception as exc:  # a structure no check above foresaw: damaged, never a crash
        logger.exception("verification failed on a damaged structure")
        return _unreadable(
            pdf,
            digest,
            verified_at,
            "damaged_pdf",
            "DAMAGED_PDF",
            "Файл PDF повреждён и не может быть проверен",
            f"{type(exc).__name__}: {exc}"[:500],
        )


HARD_DEADLINE_GRACE = 0.5
"""Seconds past the cooperative time budget before the watchdog interrupts (our own
walks stop at the budget with a precise message; the watchdog catches the rest)."""


def _authority_of(registration_number: str | None) -> str | None:
    """``KZ-MVD-2026-000123`` → ``KZ-MVD`` (the service's numbering)."""
    match = _REGISTRATION.match(registration_number or "")
    return match.group(1) if match else None


_REGISTRATION = re.compile(r"^([A-Z]{2}-[A-Z0-9-]+?)-\d{4}-\d{6}$")


@dataclass
class _Job:
    """One verification of a PDF file."""

    pdf: bytes
    digest: str
    verified_at: datetime
    now: datetime | None
    roots: TrustRoots
    registry_lookup: RegistryLookup | None
    source_validator: SourceValidator | None
    known: KnownDocument | None
    own_seal: bytes | None

    def _damaged(self, exc: Exception) -> VerificationReport:
        return _unreadable(
            self.pdf,
            self.digest,
            self.verified_at,
            "damaged_pdf",
            "DAMAGED_PDF",
            "Файл PDF повреждён и не может быть прочитан",
            f"{type(exc).__name__}: {exc}"[:500],
        )

    async def run(self, budget: Budget) -> VerificationReport:
        with duplicate_keys() as duplicates:
            return await self._run(budget, duplicates)

    async def _run(self, budget: Budget, duplicates: list[str]) -> VerificationReport:
        check_parser_streams(self.pdf, budget)
        view = parser_view(self.pdf)
        if view is None:
            return self._damaged(PdfReadError("EOF marker not found"))
        try:
            reader = untrusted_reader(view)
            if reader.encrypted:
                return _unreadable(
                    self.pdf,
                    self.digest,
                    self.verified_at,
                    "encrypted_pdf",
                    "ENCRYPTED_PDF",
                    "Документ PDF зашифрован: проверка невозможна",
                    "encrypted",
                )
            budget.revisions(reader.xrefs.total_revisions)
            fields = signature_fields(reader.root, budget)
            count = reader.root["/Pages"]["/Count"]
            page_count = int(count) if isinstance(count, int) else None
        except (VerificationBudgetExceeded, MalformedPdfStructure):
            raise
        except Exception as exc:  # damaged structure: any pyHanko/parser error
            return self._damaged(exc)
        layout = FileLayout.of(self.pdf)
        good, failed = _collect(reader, fields, self.pdf, layout)
        try:
            check_trees(reader, {sig.signed_revision for sig, _ in good}, budget)
        except (VerificationBudgetExceeded, MalformedPdfStructure):
            raise
        except Exception as exc:
            return self._damaged(exc)
        total = reader.xrefs.total_revisions
        # document timestamps do not move the tail: what follows the last *signature*
        # (DSS, archive timestamps) is held to the strict policy of changes.py
        tail_start = max(
            (sig.signed_revision for sig, _ in good if not is_document_timestamp(sig)),
            default=total - 1,
        )
        signed_root = (
            reader.get_historical_resolver(tail_start).root
            if good and tail_start < total - 1
            else reader.root
        )
        xmp = _read_xmp(signed_root, budget)
        source, schema_error = _source_facts(
            _embedded_source_xml(signed_root, budget), self.source_validator
        )
        xmp_type = xmp.types[0] if xmp.types and _DOCUMENT_TYPE_CODE.match(xmp.types[0]) else None
        try:
            dss = dss_revinfo(reader, budget)
        except VerificationBudgetExceeded:
            raise
        except Exception:  # a broken DSS is ignored: validation then runs without it
            dss = ([], [], [])
        ctx = Context(
            roots=self.roots,
            registry_lookup=self.registry_lookup,
            now=self.now,
            verified_at=self.verified_at,
            facts=_signed_facts(source, xmp.identifier, xmp_type, self.known),
            own_seal=self.own_seal,
            dss=dss,
            budget=budget,
            tail_start=tail_start,
            tail_changes=_tail_changes(self.pdf, reader, good, tail_start, budget, duplicates)
            if good
            else (),
            trailing=_trailing_sentence(self.pdf, layout),
        )
        stamps = [sig for sig, _ in good if is_document_timestamp(sig)]
        if stamps:
            links = await document_timestamps(stamps, ctx)
            ctx = dataclasses.replace(ctx, poe_links=tuple(links))
        verified = [
            await verify_signature(reader, sig, cov, ctx)
            for sig, cov in good
            if not is_document_timestamp(sig)
        ]
        signatures = tuple(verified + failed)
        form_version = next(
            (t.removeprefix(FORM_PREFIX) for t in xmp.types if t.startswith(FORM_PREFIX)), None
        )
        known = self.known or _own_report(signatures, self.own_seal)
        checks = document_checks(
            signatures, xmp, source, schema_error, xmp_type, form_version, known
        )
        if ctx.trailing is not None:
            checks = (*checks, Check("unsigned_bytes", FAILED, ctx.trailing))
        empty = sum(1 for f in fields if f.value is None)
        if empty:
            checks = (
                *checks,
                Check("signatures", WARNING, f"Пустых (не подписанных) полей подписи: {empty}"),
            )
        indication, sub, summary = _overall(signatures)
        if source.sample:
            version = source.form_version or form_version or "?"
            summary = (
                f"Образец бланка (ОБРАЗЕЦ) версии {version}: "
                + (f"{summary.lower()}; " if signatures else "не подписанный документ; ")
                + "заполнители вместо данных"
            )
        pdfa = (
            f"PDF/A-{xmp.pdfa_part}{(xmp.pdfa_conformance or '').upper()}"
            if xmp.pdfa_part
            else None
        )
        return VerificationReport(
            sha256=self.digest,
            size=len(self.pdf),
            file_kind="pdf",
            indication=indication,
            sub_indication=sub,
            summary=summary,
            verified_at=self.verified_at,
            signature_count=len(signatures),
            signatures=signatures,
            checks=checks,
            registration_number=xmp.identifier
            if xmp.identifier and not xmp.identifier.startswith("urn:")
            else None,
            document_type=source.document_type or xmp_type,
            form_version=form_version,
            pdfa=pdfa,
            page_count=page_count,
            source_xml=source,
            known=known,
            sample_form=(source.form_version or form_version or "?") if source.sample else None,
        )


def _tail_changes(
    pdf: bytes,
    reader: PdfFileReader,
    good: Sequence[tuple[Any, Coverage]],
    tail_start: int,
    budget: Budget,
    duplicates: list[str],
) -> tuple[str, ...]:
    """The forbidden unsigned changes: what the updates after ``tail_start`` change
    (:func:`unsigned_changes`), the tail's bytes that pyHanko did not read
    (:mod:`.tail_bytes`), and a repeated dictionary key read anywhere so far
    (:mod:`.ambiguity`)."""
    if tail_start >= reader.xrefs.total_revisions - 1:
        return ()
    changes = unsigned_changes(reader, tail_start, budget)
    signed_end = max(
        (cov.signed_end for sig, cov in good if int(sig.signed_revision) == tail_start),
        default=0,
    )
    if signed_end:
        changes = (*changes, *unread_tail_bytes(pdf, reader, tail_start, signed_end, budget))
    if duplicates:
        changes = (*changes, AMBIGUOUS)
    return changes


def _signed_facts(
    source: SourceXmlInfo, identifier: str | None, xmp_type: str | None, known: KnownDocument | None
) -> SignedFacts:
    """Authority and type for the registry check: the signed source XML, else what the
    service recorded for these exact bytes, else the signed XMP (never a later update)."""
    if source.sender and source.document_type and not source.sample:
        return SignedFacts(source.sender, source.document_type, source.signatory)
    if source.sample and source.sender:
        # a sample form is signed for its authority by the signer of its list of
        # signatories, whose registry authorisation is checked as for a request
        return SignedFacts(source.sender, "request", None)
    if known is not None and known.kind != "verification-report":
        return SignedFacts(known.sender, known.signed_as or known.document_type, None)
    return SignedFacts(_authority_of(identifier), xmp_type, source.signatory)


def _own_report(
    signatures: Sequence[SignatureReport], own_seal: bytes | None
) -> KnownDocument | None:
    """A file sealed only by this service's seal, validly: one of its verification reports."""
    if own_seal is None or not signatures:
        return None
    seal_sha = hashlib.sha256(own_seal).hexdigest()
    if all(
        s.signer is not None
        and s.signer.sha256 == seal_sha
        and s.indication is Indication.TOTAL_PASSED
        for s in signatures
    ):
        first = signatures[0]
        return KnownDocument(
            registration_number="",
            document_type="verification-report",
            sender="",
            recipient="",
            document_date=first.best_signing_time.date().isoformat()
            if first.best_signing_time
            else "",
            signed_at=first.best_signing_time or datetime.now(UTC),
            form_version="",
            signatory_id="",
            kind="verification-report",
        )
    return None


EOF_WINDOW = 1024
"""pyHanko looks for the last ``%%EOF`` in the file's last 1024 bytes."""


def parser_view(pdf: bytes) -> bytes | None:
    """The bytes pyHanko's reader is given: the file, or — when more than
    :data:`EOF_WINDOW` bytes follow its last ``%%EOF`` — the file up to that marker's
    line; ``None`` when it has no ``%%EOF`` at all (damaged).

    pyHanko reads the tail backwards one byte at a time, and a run of end-of-line bytes
    (or one long line) as a whole: 24 MiB of spaces or NULs appended to a genuine file
    kept a worker busy for 15 s.  The bytes after the marker are reported as unsigned
    trailing bytes (:func:`_trailing_sentence`), whatever their length, so a long tail
    gets the same verdict as a short one — never a better one.
    """
    if len(pdf) <= EOF_WINDOW or _EOF in pdf[-EOF_WINDOW:]:
        return pdf
    at = pdf.rfind(_EOF)
    if at < 0:
        return None
    end = at + len(_EOF)
    if pdf[end : end + 2] == b"\r\n":
        return pdf[: end + 2]
    return pdf[: end + 1] if pdf[end : end + 1] in (b"\r", b"\n") else pdf[:end]


_EOF = b"%%EOF"


def _trailing_sentence(pdf: bytes, layout: FileLayout) -> str | None:
    if not layout.trailing:
        return None
    what = "пробельных символов" if layout.trailing_is_whitespace(pdf) else "посторонних байт"
    return (
        f"После последней ревизии файла (%%EOF) дописано {layout.trailing} байт "
        f"{what}, не охваченных ни одной подписью"
    )


def _collect(
    reader: PdfFileReader, fields: Sequence[SigField], pdf: bytes, layout: FileLayout
) -> tuple[list[tuple[Any, Coverage]], list[SignatureReport]]:
    """Filled signature fields → well-formed signatures (in signing order) and one
    FORMAT_FAILURE report for each malformed or unsupported one."""
    good: list[tuple[Any, Coverage]] = []
    failed: list[SignatureReport] = []
    for f in fields:
        if f.value is None:
            continue
        try:
            sig_object = f.value.get_object() if hasattr(f.value, "get_object") else f.value
            subfilter = sig_object.get("/SubFilter")
            if subfilter not in _SUBFILTERS:
                failed.append(
                    failed_format(
                        f.name,
                        f"Подпись с неподдерживаемым форматом {subfilter or 'без /SubFilter'} "
                        "не может быть проверена",
                        "unsupported /SubFilter",
                    )
                )
                continue
            sig = EmbeddedPdfSignature(reader, reader.get_object(f.ref), f.name)
        except Exception as exc:  # malformed signature dictionary or CMS
            failed.append(
                failed_format(
                    f.name,
                    "Подпись не удалось прочитать: словарь подписи или структура CMS повреждены",
                    f"{type(exc).__name__}: {exc}"[:300],
                )
            )
            continue
        coverage = check_byte_range(pdf, sig.sig_object, layout)
        if coverage.ok:
            coverage = _signed_revision_within(reader, sig, coverage)
        if not coverage.ok:
            failed.append(
                failed_format(f.name, coverage.message, coverage.detail, coverage.coverage)
            )
            continue
        good.append((sig, coverage))
    good.sort(key=lambda item: int(item[0].signed_revision))
    return good, failed


def _signed_revision_within(reader: PdfFileReader, sig: Any, coverage: Coverage) -> Coverage:
    """The revision that last wrote the signature dictionary — where pyHanko starts the
    diff and we start the unsigned tail — must lie inside the signed bytes, every
    revision before it too.  A dictionary re-declared in a later update with the same
    ``/ByteRange`` would otherwise move the tail past changes nobody signed (signature
    wrapping); pyHanko's coverage level catches that as well, this does not rely on it."""
    try:
        ends = [
            reader.xrefs.get_xref_container_info(revision).end_location
            for revision in range(int(sig.signed_revision) + 1)
        ]
    except Exception as exc:
        return dataclasses.replace(coverage, ok=False, detail=f"xref: {type(exc).__name__}")
    if max(ends) <= coverage.signed_end:
        return coverage
    return Coverage(
        False,
        "PARTIAL",
        "Словарь подписи переписан в ревизии, которая не охвачена подписанными байтами "
        "(атака на обёртку подписи)",
        "signature dictionary redefined after the signed bytes",
        signed_end=coverage.signed_end,
    )


_SUBFILTERS = {s.value for s in SigSeedSubFilter}


def _overall(signatures: Sequence[SignatureReport]) -> tuple[Indication, str | None, str]:
    """Worst indication over the signatures (ETSI: a failure beats a missing proof)."""
    if not signatures:
        return Indication.INDETERMINATE, "NO_SIGNATURE", "В документе нет электронной подписи"
    bad = worst(signatures)
    n = len(signatures)
    if bad.indication is Indication.TOTAL_PASSED:
        return (
            bad.indication,
            None,
            ("Подпись действительна" if n == 1 else f"Все подписи ({n}) действительны"),
        )
    summary = bad.summary if n == 1 else f"{bad.field_name}: {bad.summary}"
    return bad.indication, bad.sub_indication, summary


def verify_document(
    pdf: bytes,
    *,
    trust_roots: TrustRoots | Iterable[bytes],
    registry_lookup: RegistryLookup | None,
    known_document_lookup: KnownDocumentLookup | None = None,
    source_validator: SourceValidator | None = None,
    now: datetime | None = None,
    budget: Budget | None = None,
    own_seal: bytes | None = None,
) -> VerificationReport:
    """Verify every signature in ``pdf`` and describe the document; never raises on input.

    :param trust_roots: the countries' root CAs (:class:`TrustRoots`, or DER bytes).
    :param registry_lookup: decides the registered-signatory check
        (:class:`SessionRegistryLookup`); ``None`` = reported as not checked.
    :param known_document_lookup: SHA-256 → what this service recorded, if anything.
    :param source_validator: schema validation of the embedded XML (the service passes
        its own); ``None`` = reported as not checked.
    :param now: validation time (default: now).
    :param budget: time, node and decompression budget (default: :class:`Budget`).
    :param own_seal: DER certificate of this service's seal: a signature by it is the
        service's own (a sealed verification report), not a registry signatory's.
    """
    return run_sync(
        async_verify_document(
            pdf,
            trust_roots=trust_roots,
            registry_lookup=registry_lookup,
            known_document_lookup=known_document_lookup,
            source_validator=source_validator,
            now=now,
            budget=budget,
            own_seal=own_seal,
        )
    )


EXIT_CODES = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1, Indication.INDETERMINATE: 2}
"""CLI exit code by overall indication (no signature / not a PDF = ``INDETERMINATE``)."""
