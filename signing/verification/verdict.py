"""ETSI EN 319 102-1 indications: one precedence table, summaries, the worst of several.

:data:`PRECEDENCE` is the whole policy: the first rule whose condition holds gives the
signature's indication and sub-indication.  ``TOTAL_FAILED`` rules come first (a proven
failure beats a missing proof, so a second broken signature or an untrusted certificate
can never hide a tampered document), then ``INDETERMINATE`` ones.  The README prints the
same table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .report import Indication, SignatureReport


@dataclass(frozen=True)
class Evidence:
    """What the checks of one signature established."""

    format_ok: bool = True
    """CMS readable, PAdES SubFilter, ``/Contents`` the hex token of the ByteRange gap,
    the signed bytes ending at a revision end, no unsigned bytes after the last one."""
    intact: bool = True
    """The digest of the signed bytes matches."""
    valid: bool = True
    """The signature value verifies with the certificate's key."""
    forbidden_changes: bool = False
    """pyHanko found unexplained changes, or the unsigned tail changes what is shown or read."""
    future_claimed_time: bool = False
    """No proof of existence and the claimed signing time is after the verification time."""
    revoked_before_signing: bool = False
    """The certificate was revoked at the (proven or claimed) signing time."""
    revoked_no_poe: bool = False
    """The certificate or the registered signatory is revoked now; no proof of existence
    before the revocation."""
    trust_problem: str | None = None
    """pyHanko's sub-indication when the chain is not trusted (``None`` = trusted)."""
    timestamp_failed: bool = False
    """A signature timestamp is present but does not verify."""
    out_of_bounds_no_poe: bool = False
    """The signatory's registry window closed or the certificate expired, no proof of time."""
    constraints_failed: bool = False
    """The registered-signatory check failed or could not be decided."""


Rule = tuple[str, Callable[[Evidence], bool], Indication, str]

PRECEDENCE: tuple[Rule, ...] = (
    (
        "CMS unreadable, not PAdES, /Contents not one hex token filling the ByteRange gap, "
        "signed bytes not ending at a revision end, unsigned trailing bytes",
        lambda e: not e.format_ok,
        Indication.TOTAL_FAILED,
        "FORMAT_FAILURE",
    ),
    (
        "signed bytes do not match the digest",
        lambda e: not e.intact,
        Indication.TOTAL_FAILED,
        "HASH_FAILURE",
    ),
    (
        "signature value does not verify",
        lambda e: not e.valid,
        Indication.TOTAL_FAILED,
        "SIG_CRYPTO_FAILURE",
    ),
    (
        "changes after signing that pyHanko cannot explain, or any visible, metadata, "
        "catalog or attachment change in the unsigned tail",
        lambda e: e.forbidden_changes,
        Indication.TOTAL_FAILED,
        "FORMAT_FAILURE",
    ),
    (
        "claimed signing time after the verification time, no timestamp",
        lambda e: e.future_claimed_time,
        Indication.TOTAL_FAILED,
        "NOT_YET_VALID",
    ),
    (
        "certificate revoked at the signing time",
        lambda e: e.revoked_before_signing,
        Indication.TOTAL_FAILED,
        "REVOKED",
    ),
    (
        "certificate or registered signatory revoked now, no timestamp before the revocation",
        lambda e: e.revoked_no_poe,
        Indication.INDETERMINATE,
        "REVOKED_NO_POE",
    ),
    (
        "no trusted chain, certificate expired or not yet valid (pyHanko's sub-indication)",
        lambda e: e.trust_problem is not None,
        Indication.INDETERMINATE,
        "<chain>",
    ),
    (
        "signature timestamp present but corrupted: no proof of the signing time",
        lambda e: e.timestamp_failed,
        Indication.INDETERMINATE,
        "NO_POE",
    ),
    (
        "signatory's registry window closed (or certificate expired) now, no timestamp",
        lambda e: e.out_of_bounds_no_poe,
        Indication.INDETERMINATE,
        "OUT_OF_BOUNDS_NO_POE",
    ),
    (
        "signer not an authorised signatory, or authority/type unknown",
        lambda e: e.constraints_failed,
        Indication.INDETERMINATE,
        "SIG_CONSTRAINTS_FAILURE",
    ),
)
"""ETSI precedence, first match wins; ``<chain>`` = pyHanko's chain sub-indication."""


def decide(evidence: Evidence) -> tuple[Indication, str | None]:
    """The indication and sub-indication of one signature (first rule that holds)."""
    for _text, holds, indication, sub in PRECEDENCE:
        if holds(evidence):
            if sub == "<chain>":
                return indication, evidence.trust_problem or "CERTIFICATE_CHAIN_GENERAL_FAILURE"
            return indication, sub
    return Indication.TOTAL_PASSED, None


_FAILURE_TEXT = {
    "HASH_FAILURE": "подписанные данные изменены после подписания",
    "SIG_CRYPTO_FAILURE": "значение подписи не соответствует ключу сертификата",
    "REVOKED": "сертификат подписанта отозван",
    "FORMAT_FAILURE": "документ изменён после подписания или подпись имеет неверный формат",
    "NOT_YET_VALID": "заявленное время подписания позже времени проверки",
    "NO_POE": "метка времени повреждена: время подписания не доказано",
    "NO_CERTIFICATE_CHAIN_FOUND": "сертификат подписанта выдан не доверенным удостоверяющим "
    "центром",
    "OUT_OF_BOUNDS_NO_POE": "сертификат или полномочия подписанта не действуют на момент "
    "проверки, а доказательства подписания в срок (метки времени) нет",
    "OUT_OF_BOUNDS_NOT_REVOKED": "сертификат не действовал на момент проверки",
    "SIG_CONSTRAINTS_FAILURE": "полномочия подписанта не подтверждены",
    "REVOKED_NO_POE": "сертификат или полномочия подписанта отозваны, а доказательства "
    "подписания до отзыва (метки времени) нет",
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


_SEVERITY = {Indication.TOTAL_FAILED: 2, Indication.INDETERMINATE: 1, Indication.TOTAL_PASSED: 0}


def worst(signatures: Sequence[SignatureReport]) -> SignatureReport:
    """The signature with the worst indication (the first of equals, in file order)."""
    return max(signatures, key=lambda s: _SEVERITY[s.indication])
