# mypy: disallow-untyped-calls=False
"""Validation of one embedded signature (pyHanko plus our own checks)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from ..api import SIGNING_KEY_USAGES
from .changes import describe_changes
from .checks import (
    Context,
    _cert_info,
    _chain_check,
    _coverage_check,
    _crypto_checks,
    _fmt,
    _format_check,
    _modifications_check,
    _revocation_check,
    _signing_time_check,
    _timestamp_check,
)
from .longterm import (
    ProofOfExistence,
    archived,
    control_time,
    revinfo_context,
    signature_link,
    token_time,
)
from .report import (
    FAILED,
    PASSED,
    WARNING,
    Check,
    RegistryFinding,
    RegistryQuery,
    SignatoryInfo,
    SignatureReport,
)
from .structure import Budget, Coverage, stream_bytes
from .verdict import Evidence, _summary, decide

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- signatures


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
    """pyHanko's validation of one signature, with the document's DSS as revocation data.

    One validation context serves the signature and its timestamp (pyHanko's default
    when no separate one is given): both are judged against the same trust roots at the
    same time, and the timestamp's certificates then need no second registry.
    """
    ocsps, crls, dss_certs = ctx.dss
    vc = ValidationContext(
        trust_manager=ctx.roots.trust_manager,
        allow_fetching=False,
        other_certs=dss_certs,
        ocsps=ocsps,
        crls=crls,
        moment=ctx.now,
    )
    try:
        return await async_validate_pdf_signature(
            sig,
            signer_validation_context=vc,
            key_usage_settings=_KEY_USAGE,
        )
    finally:
        await vc.aclose()


_KEY_USAGE = KeyUsageConstraints(key_usage=set(SIGNING_KEY_USAGES), match_all_key_usages=False)


async def _pyhanko_status_at(sig: Any, ctx: Context, moment: datetime) -> Any:
    """pyHanko's validation at the signature timestamp's time with the DSS data required
    (see :mod:`.longterm`)."""
    vc, ts_vc = revinfo_context(ctx, moment), revinfo_context(ctx, moment)
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


async def _proven(sig: Any, ctx: Context) -> tuple[Any, ProofOfExistence | None]:
    """The validation at the proven signing time, if the signature timestamp proves it
    and the DSS covers the chain; else ``None`` (judge now).  Plus the timestamp's link."""
    moment = token_time(sig)
    if moment is None:
        return None, None
    try:
        status = await _pyhanko_status_at(sig, ctx, moment)
    except Exception:  # judged by the ordinary validation instead
        return None, None
    control = control_time(int(sig.signed_revision), list(ctx.poe_links), ctx.verified_at)
    link = signature_link(str(sig.field_name), status, control)
    usable = status.trusted or status.revocation_details is not None
    if link is None or link.status is not PASSED or not usable:
        return None, link
    return status, link


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
    if ctx.own_seal is not None and cert.dump() == ctx.own_seal:
        return _RegistryOutcome(
            Check(
                "registered_signatory",
                PASSED,
                "Документ заверен печатью этого сервиса (отчёт о проверке)",
                "service-seal",
            ),
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


def _cms_readable(sig: Any) -> bool:
    """The CMS yields a signer certificate (asked only after validation failed: pyHanko
    extracts it itself, so asking first would do that work twice)."""
    try:
        sig.signer_cert  # noqa: B018 - parses the certificates of the CMS
    except Exception:
        return False
    return True


async def verify_signature(
    reader: PdfFileReader, sig: Any, coverage: Coverage, ctx: Context
) -> SignatureReport:
    """Validate one signature that passed :func:`.structure.check_byte_range`."""
    field_name = str(sig.field_name)
    ctx.budget.check_time()
    try:
        status = await _pyhanko_status(sig, ctx)
    except Exception as exc:  # pyHanko raises many types on malformed signatures
        return failed_format(
            field_name,
            "Подпись не удалось проверить: неверный формат подписи"
            if _cms_readable(sig)
            else "Подпись не удалось прочитать: структура CMS повреждена",
            f"{type(exc).__name__}: {exc}",
        )
    ctx.budget.check_time()
    proven, link = await _proven(sig, ctx)
    if proven is not None:
        status = proven
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
        _revocation_check(status, revoked, bool(ocsps or crls), proven is not None),
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
    revision = int(sig.signed_revision)
    level = (
        "B-B"
        if poe is None
        else "B-T"
        if proven is None
        else "B-LTA"
        if archived(revision, list(ctx.poe_links))
        else "B-LT"
    )
    chain_links = tuple([link] if link is not None else []) + tuple(
        lk for rev, lk in ctx.poe_links if rev > revision
    )
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
        proofs_of_existence=chain_links,
    )
