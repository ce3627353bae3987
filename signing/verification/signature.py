# mypy: disallow-untyped-calls=False
"""Validation of one embedded signature (pyHanko plus our own checks)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from ..api import SIGNING_KEY_USAGES
from .changes import describe_changes
from .report import (
    FAILED,
    PASSED,
    WARNING,
    CertificateInfo,
    Check,
    RegistryFinding,
    RegistryLookup,
    RegistryQuery,
    SignatoryInfo,
    SignatureReport,
)
from .structure import Budget, Coverage, stream_bytes
from .trust import TrustRoots
from .verdict import _FAILURE_TEXT, Evidence, _summary, decide

logger = logging.getLogger(__name__)

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


MAX_REVINFO_BYTES = 4 * 1024 * 1024
"""Decoded size limit of one DSS stream (OCSP response, CRL, certificate)."""


def dss_revinfo(
    reader: PdfFileReader, budget: Budget
) -> tuple[list[Any], list[Any], list[x509.Certificate]]:
    """OCSP responses, CRLs and certificates from the document security store (B-LT)."""
    from asn1crypto import crl, ocsp

    dss = reader.root.get("/DSS")
    if dss is None:
        return [], [], []
    dss = dss.get_object()

    def streams(key: str) -> list[bytes]:
        items = dss.get(key, ())
        budget.tick(len(items))
        return [stream_bytes(r.get_object(), budget, MAX_REVINFO_BYTES) for r in items]

    ocsps = [ocsp.OCSPResponse.load(d) for d in streams("/OCSPs")]
    crls = [crl.CertificateList.load(d) for d in streams("/CRLs")]
    certs = [x509.Certificate.load(d) for d in streams("/Certs")]
    return ocsps, crls, certs


@dataclass(frozen=True)
class SignedFacts:
    """What the signed revision says about the document, for the registry check."""

    authority: str | None
    """Sending authority: ``header/sender`` of the source XML, else the prefix of the
    registration number in the signed XMP."""
    document_type: str | None
    """Document type: the source XML's root, else the signed XMP's ``dc:type``."""
    claimed_signatory: str | None
    """``header/signatory`` of the source XML, if any."""


@dataclass(frozen=True)
class Context:
    """Everything shared by the signatures of one file."""

    roots: TrustRoots
    registry_lookup: RegistryLookup | None
    now: datetime | None
    verified_at: datetime
    facts: SignedFacts
    dss: tuple[list[Any], list[Any], list[x509.Certificate]]
    budget: Budget
    tail_start: int
    """The last revision covered by a well-formed signature."""
    tail_changes: tuple[str, ...]
    """Forbidden changes in the revisions after :attr:`tail_start`."""
    trailing: str | None
    """Sentence about unsigned bytes after the last revision, if there are any."""


CLOCK_SKEW = timedelta(minutes=5)
"""Tolerance between a claimed signing time and the verifier's clock."""


def failed_format(
    field_name: str, message: str, detail: str | None, coverage: str | None = None
) -> SignatureReport:
    """A signature that cannot be validated at all: its own FORMAT_FAILURE entry."""
    indication, sub = decide(Evidence(format_ok=False))
    return SignatureReport(
        field_name=field_name,
        indication=indication,
        sub_indication=sub,
        summary=_summary(indication, sub),
        signer=None,
        signatory=None,
        claimed_signing_time=None,
        timestamp_time=None,
        best_signing_time=None,
        level=None,
        coverage=coverage,
        modification_level=None,
        changes=(),
        checks=(Check("format", FAILED, message, detail),),
    )


async def _pyhanko_status(sig: Any, ctx: Context) -> Any:
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
        return await async_validate_pdf_signature(
            sig,
            signer_validation_context=vc,
            ts_validation_context=ts_vc,
            key_usage_settings=KeyUsageConstraints(
                key_usage=set(SIGNING_KEY_USAGES), match_all_key_usages=False
            ),
        )
    finally:
        await vc.aclose()
        await ts_vc.aclose()


def _format_check(sig: Any) -> Check:
    subfilter = str(sig.sig_object.get("/SubFilter", ""))
    if subfilter == "/ETSI.CAdES.detached":
        return Check("format", PASSED, "Подпись в формате PAdES (ETSI.CAdES.detached)")
    return Check(
        "format",
        WARNING,
        f"Подпись не в формате PAdES, а {subfilter.lstrip('/') or 'без /SubFilter'}",
    )


def _crypto_checks(status: Any) -> list[Check]:
    cert = status.signing_cert
    intact, valid = bool(status.intact), bool(status.valid)
    checks = [
        Check("integrity", PASSED, "Подписанные данные не изменены: хеш совпадает")
        if intact
        else Check(
            "integrity",
            FAILED,
            "Подписанные данные изменены: хеш документа не совпадает с подписанным",
            "message digest mismatch",
        )
    ]
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
    return checks


def _chain_check(status: Any, signer: CertificateInfo, revoked: bool) -> tuple[Check, str | None]:
    """The chain check and the trust problem (pyHanko's sub-indication name, if any)."""
    if status.trusted:
        path = status.validation_path
        anchor = path.trust_anchor.authority.name.human_friendly if path is not None else "?"
        return Check(
            "certificate_chain", PASSED, f"Сертификат выдан доверенным центром: {anchor}"
        ), None
    if revoked:
        return Check("certificate_chain", PASSED, "Цепочка до доверенного центра построена"), None
    problem = status.trust_problem_indic
    name: str = getattr(problem, "name", None) or "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    text = _FAILURE_TEXT.get(name, "сертификат не подтверждён")
    return Check(
        "certificate_chain",
        FAILED if name == "NO_CERTIFICATE_CHAIN_FOUND" else WARNING,
        text[0].upper() + text[1:] + f" (издатель: {signer.issuer})",
        name,
    ), name


def _revocation_check(status: Any, revoked: bool, has_revinfo: bool) -> Check:
    cert = status.signing_cert
    if revoked:
        rd = status.revocation_details
        when = f" с {_fmt(rd.revocation_date)}" if rd is not None else ""
        return Check("revocation", FAILED, f"Сертификат отозван{when}", "REVOKED")
    if not _has_revocation_pointers(cert):
        return Check(
            "revocation",
            WARNING,
            "Сертификат не содержит адресов CRL/OCSP: статус отзыва проверить нельзя",
            "no CRL distribution points or OCSP URLs",
        )
    if has_revinfo:
        return Check(
            "revocation",
            PASSED,
            "Сертификат не отозван (по сведениям об отзыве, встроенным в документ)",
        )
    return Check(
        "revocation",
        WARNING,
        "Сведений об отзыве в документе нет, онлайн-запросы не выполняются: статус "
        "отзыва не проверен",
        "no embedded revocation info; fetching disabled",
    )


def _timestamp_check(ts: Any) -> tuple[Check, datetime | None, bool]:
    """The timestamp check, the proof of existence it gives (if any) and whether a
    timestamp is present but broken.  An untrusted TSA is no proof of time."""
    if ts is None:
        return (
            Check(
                "timestamp",
                WARNING,
                "Метки времени нет (PAdES B-B): время подписания заявлено подписантом и "
                "ничем не доказано",
            ),
            None,
            False,
        )
    if not (ts.intact and ts.valid):
        return (
            Check(
                "timestamp",
                FAILED,
                f"Метка времени ({_fmt(ts.timestamp)}) повреждена: время подписания не доказано",
                "timestamp token does not verify",
            ),
            None,
            True,
        )
    if not ts.trusted:
        return (
            Check(
                "timestamp",
                WARNING,
                f"Метка времени ({_fmt(ts.timestamp)}) выдана не доверенной службой: она не "
                "доказывает время подписания",
                "TSA not trusted",
            ),
            None,
            False,
        )
    return (
        Check("timestamp", PASSED, f"Метка времени действительна: {_fmt(ts.timestamp)}"),
        (ts.timestamp),
        False,
    )


def _signing_time_check(
    claimed: datetime | None, poe: datetime | None, ctx: Context
) -> tuple[Check, bool]:
    """The signing-time check and whether a claimed time lies in the future."""
    if poe is not None:
        return Check("signing_time", PASSED, f"{_fmt(poe)} (по метке времени)"), False
    if claimed is None:
        return Check("signing_time", WARNING, "Время подписания не указано"), False
    if claimed > ctx.verified_at + CLOCK_SKEW:
        return (
            Check(
                "signing_time",
                FAILED,
                f"Заявленное время подписания {_fmt(claimed)} позже времени проверки "
                f"{_fmt(ctx.verified_at)}",
                "claimed signing time in the future",
            ),
            True,
        )
    return (
        Check(
            "signing_time",
            PASSED,
            f"{_fmt(claimed)} (заявлено подписантом; без метки времени сертификат и "
            "полномочия проверены и на момент проверки)",
        ),
        False,
    )


def _coverage_check(coverage: Coverage, ctx: Context) -> Check:
    if ctx.trailing is not None:
        return Check("coverage", FAILED, ctx.trailing, "unsigned trailing bytes")
    return Check("coverage", PASSED if coverage.ok else FAILED, coverage.message, coverage.detail)


def _modifications_check(
    status: Any, sig: Any, coverage: Coverage, changes: tuple[str, ...], ctx: Context
) -> tuple[Check, bool]:
    """The modifications check and whether the changes are forbidden."""
    if ctx.tail_changes and sig.signed_revision <= ctx.tail_start:
        return (
            Check(
                "modifications",
                FAILED,
                "После подписания документ изменён недопустимым образом: " + "; ".join(changes[1:]),
                "unsigned update changes what is shown or read",
            ),
            True,
        )
    level = status.modification_level
    if ctx.trailing is not None and level in (None, ModificationLevel.NONE):
        return Check("modifications", FAILED, ctx.trailing, "unsigned trailing bytes"), False
    if coverage.coverage == "ENTIRE_FILE" or level is ModificationLevel.NONE:
        return Check("modifications", PASSED, "После подписания документ не изменялся"), False
    listed = "; ".join(changes[1:])
    if level is ModificationLevel.LTA_UPDATES:
        message = "После подписания добавлены только данные для проверки (DSS, метки времени)"
        return Check("modifications", PASSED, f"{message}: {listed}"), False
    if level is ModificationLevel.FORM_FILLING:
        message = "После подписания добавлены только подписи и поля форм"
        return Check("modifications", PASSED, f"{message}: {listed}"), False
    if level is ModificationLevel.ANNOTATIONS:
        message = "После подписания добавлены аннотации (текст документа не изменён)"
        return Check("modifications", WARNING, f"{message}: {listed}"), False
    diff = status.diff_result
    detail = str(diff).split("\n")[0][:300] if isinstance(diff, SuspiciousModification) else None
    return (
        Check(
            "modifications",
            FAILED,
            "После подписания документ изменён недопустимым образом: "
            + (listed or "см. подробности"),
            detail,
        ),
        True,
    )


@dataclass(frozen=True)
class _RegistryOutcome:
    check: Check
    signatory: SignatoryInfo | None
    failed: bool
    revoked_now: bool
    out_of_bounds_now: bool


def _registry(cert: x509.Certificate, at: datetime | None, poe: bool, ctx: Context) -> Any:
    if ctx.registry_lookup is None:
        return _RegistryOutcome(
            Check("registered_signatory", WARNING, "Перечень подписантов недоступен"),
            None,
            False,
            False,
            False,
        )
    if at is None:
        return _RegistryOutcome(
            Check(
                "registered_signatory",
                FAILED,
                "Время подписания неизвестно: полномочия проверить нельзя",
                "no-signing-time",
            ),
            None,
            True,
            False,
            False,
        )
    try:
        finding = ctx.registry_lookup(
            RegistryQuery(
                certificate_der=cert.dump(),
                at=at,
                claimed_signatory=ctx.facts.claimed_signatory,
                authority=ctx.facts.authority,
                document_type=ctx.facts.document_type,
                now=None if poe else ctx.verified_at,
            )
        )
    except Exception as exc:  # registry down: say so, never crash the report
        logger.exception("registry lookup failed")
        finding = RegistryFinding(
            WARNING,
            "Перечень подписантов недоступен: полномочия не проверены",
            reason=type(exc).__name__,
        )
    signatory = (
        SignatoryInfo(
            finding.signatory_id, finding.authority, finding.full_name_ru, finding.position_ru
        )
        if finding.signatory_id is not None
        else None
    )
    now_reason = finding.now_reason if finding.status is PASSED else None
    check = Check("registered_signatory", finding.status, finding.message, finding.reason)
    if now_reason is not None:
        check = Check(
            "registered_signatory",
            WARNING,
            finding.message + f"; но на момент проверки ({_fmt(ctx.verified_at)}) полномочия "
            "прекращены, а метки времени, доказывающей подписание раньше, нет",
            now_reason,
        )
    return _RegistryOutcome(
        check,
        signatory,
        finding.status is FAILED,
        now_reason == "revoked",
        now_reason is not None and now_reason != "revoked",
    )


async def verify_signature(
    reader: PdfFileReader, sig: Any, coverage: Coverage, ctx: Context
) -> SignatureReport:
    """Validate one signature that passed :func:`.structure.check_byte_range`."""
    field_name = str(sig.field_name)
    ctx.budget.check_time()
    try:
        sig.signer_cert  # noqa: B018 - forces the CMS to be parsed
    except Exception as exc:
        return failed_format(
            field_name,
            "Подпись не удалось прочитать: структура CMS повреждена",
            f"{type(exc).__name__}: {exc}",
        )
    try:
        status = await _pyhanko_status(sig, ctx)
    except Exception as exc:  # pyHanko raises many types on malformed signatures
        return failed_format(
            field_name,
            "Подпись не удалось проверить: неверный формат подписи",
            f"{type(exc).__name__}: {exc}",
        )
    ctx.budget.check_time()
    cert = status.signing_cert
    signer = _cert_info(cert)
    ocsps, crls, _ = ctx.dss
    revoked = status.revocation_details is not None or (
        getattr(status.trust_problem_indic, "name", None) == "REVOKED"
    )
    chain, trust_problem = _chain_check(status, signer, revoked)
    ts_check, poe, ts_failed = _timestamp_check(status.timestamp_validity)
    claimed = status.signer_reported_dt
    best = poe or claimed
    time_check, future = _signing_time_check(claimed, poe, ctx)
    changes = (
        describe_changes(reader, sig.signed_revision, ctx.budget) + ctx.tail_changes
        if coverage.coverage != "ENTIRE_FILE"
        else ()
    )
    modifications, forbidden = _modifications_check(status, sig, coverage, changes, ctx)
    registry = _registry(cert, best, poe is not None, ctx)
    revoked_at = (
        status.revocation_details.revocation_date if revoked and status.revocation_details else None
    )
    revoked_before = revoked and (
        poe is not None or revoked_at is None or (best is not None and best >= revoked_at)
    )
    expired_now = poe is None and signer.not_after < ctx.verified_at
    checks = (
        _format_check(sig),
        *_crypto_checks(status),
        chain,
        _revocation_check(status, revoked, bool(ocsps or crls)),
        ts_check,
        time_check,
        _coverage_check(coverage, ctx),
        modifications,
        registry.check,
    )
    evidence = Evidence(
        format_ok=ctx.trailing is None,
        intact=bool(status.intact),
        valid=bool(status.valid),
        forbidden_changes=forbidden,
        future_claimed_time=future,
        revoked_before_signing=revoked_before,
        revoked_no_poe=(revoked and not revoked_before) or registry.revoked_now,
        trust_problem=trust_problem,
        timestamp_failed=ts_failed,
        out_of_bounds_no_poe=expired_now or registry.out_of_bounds_now,
        constraints_failed=registry.failed,
    )
    indication, sub = decide(evidence)
    summary = _summary(indication, sub)
    if sub == "FORMAT_FAILURE" and forbidden:
        summary = "Подпись недействительна: документ изменён после подписания недопустимым образом"
    level = "B-B" if poe is None else "B-LT" if ocsps or crls else "B-T"
    return SignatureReport(
        field_name=field_name,
        indication=indication,
        sub_indication=sub,
        summary=summary,
        signer=signer,
        signatory=registry.signatory,
        claimed_signing_time=claimed,
        timestamp_time=status.timestamp_validity.timestamp
        if status.timestamp_validity is not None
        else None,
        best_signing_time=best,
        level=level,
        coverage=coverage.coverage,
        modification_level=status.modification_level.name
        if status.modification_level is not None
        else None,
        changes=changes,
        checks=checks,
    )
