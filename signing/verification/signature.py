# mypy: disallow-untyped-calls=False
"""Validation of one embedded signature (pyHanko plus our own checks)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
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
    Indication,
    RegistryFinding,
    RegistryLookup,
    RegistryQuery,
    SignatoryInfo,
    SignatureReport,
    SourceXmlInfo,
)
from .trust import TrustRoots
from .verdict import _FAILURE_TEXT, _summary

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
