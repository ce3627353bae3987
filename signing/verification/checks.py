# mypy: disallow-untyped-calls=False
"""The checks behind one signature's indication, one small function each."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import x509
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification

from .names import russian_name
from .report import (
    FAILED,
    PASSED,
    WARNING,
    CertificateInfo,
    Check,
    RegistryLookup,
)
from .structure import Budget, Coverage
from .trust import TrustRoots
from .verdict import _FAILURE_TEXT


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
    own_seal: bytes | None = None
    """DER certificate of this service's seal (its verification reports)."""
    poe_links: tuple[tuple[int, Any], ...] = ()
    """The document timestamps (signed revision, :class:`.longterm.ProofOfExistence`)."""


def _cert_info(cert: x509.Certificate) -> CertificateInfo:
    validity = cert["tbs_certificate"]["validity"]
    return CertificateInfo(
        subject=russian_name(cert.subject),
        issuer=russian_name(cert.issuer),
        serial_hex=format(cert.serial_number, "X"),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        sha256=hashlib.sha256(cert.dump()).hexdigest(),
    )


def _fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _has_revocation_pointers(cert: x509.Certificate) -> bool:
    return bool(cert.crl_distribution_points or cert.ocsp_urls)


CLOCK_SKEW = timedelta(minutes=5)
"""Tolerance between a claimed signing time and the verifier's clock."""


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
        anchor = russian_name(path.trust_anchor.authority.name) if path is not None else "?"
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


def _revocation_check(
    status: Any, revoked: bool, has_revinfo: bool, at_proven_time: bool = False
) -> Check:
    cert = status.signing_cert
    if revoked:
        rd = status.revocation_details
        when = f" с {_fmt(rd.revocation_date)}" if rd is not None else ""
        return Check("revocation", FAILED, f"Сертификат отозван{when}", "REVOKED")
    if at_proven_time:
        ts = status.timestamp_validity
        return Check(
            "revocation",
            PASSED,
            "Ни один сертификат цепочки (подписанта и службы времени) не был отозван на "
            f"момент подписания {_fmt(ts.timestamp)}, доказанный меткой времени (по сведениям "
            "об отзыве, встроенным в документ)",
        )
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
