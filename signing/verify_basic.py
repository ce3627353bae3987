# mypy: disallow-untyped-calls=False
"""Minimal cryptographic check of the signatures in a PDF.

A thin wrapper over pyHanko's ``async_validate_pdf_signature`` returning plain
flags.  The full DSS/ETSI-style report (indications, registry checks, PDF/A,
embedded XML) is a separate module; this one answers "intact? valid? trusted?".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from signing.untrusted import untrusted_reader

from .api import SIGNING_KEY_USAGES


@dataclass(frozen=True)
class BasicSignatureReport:
    """Outcome for one signature."""

    field_name: str
    intact: bool
    """The signed byte ranges hash to the digest in the CMS."""
    valid: bool
    """Intact and the cryptographic signature verifies with the signer's key."""
    trusted: bool
    """The signer's certificate chains to one of the given trust roots."""
    covers_whole_file: bool
    """The signature covers the whole file (no later revision)."""
    modification_level: str | None
    """pyHanko's judgement of later revisions (``NONE``, ``LTA_UPDATES``, …)."""
    signer_subject: str | None
    signing_time: datetime | None
    """Signing time claimed by the signer (CMS signing-time attribute)."""
    timestamp_time: datetime | None
    """Time of the signature timestamp token, if any (B-T)."""
    timestamp_valid: bool | None
    error: str | None = None
    """Why validation could not run (malformed CMS, …)."""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.error is None


async def async_verify_pdf(
    pdf: bytes, trust_roots: Iterable[bytes] = (), *, allow_fetching: bool = False
) -> list[BasicSignatureReport]:
    """Validate every signature in ``pdf`` against ``trust_roots`` (DER certificates)."""
    roots = [x509.Certificate.load(r) for r in trust_roots]
    reader = untrusted_reader(pdf)
    reports: list[BasicSignatureReport] = []
    for sig in reader.embedded_signatures:
        vc = ValidationContext(trust_roots=roots, allow_fetching=allow_fetching)
        ts_vc = ValidationContext(trust_roots=roots, allow_fetching=allow_fetching)
        try:
            status = await async_validate_pdf_signature(
                sig,
                signer_validation_context=vc,
                ts_validation_context=ts_vc,
                key_usage_settings=KeyUsageConstraints(
                    key_usage=set(SIGNING_KEY_USAGES), match_all_key_usages=False
                ),
            )
        except Exception as exc:  # pyHanko raises many types on malformed input
            reports.append(
                BasicSignatureReport(
                    field_name=sig.field_name,
                    intact=False,
                    valid=False,
                    trusted=False,
                    covers_whole_file=False,
                    modification_level=None,
                    signer_subject=None,
                    signing_time=None,
                    timestamp_time=None,
                    timestamp_valid=None,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
            continue
        finally:
            await vc.aclose()
            await ts_vc.aclose()
        ts = status.timestamp_validity
        reports.append(
            BasicSignatureReport(
                field_name=sig.field_name,
                intact=bool(status.intact),
                valid=bool(status.valid),
                trusted=bool(status.trusted),
                covers_whole_file=status.coverage is not None
                and status.coverage.name == "ENTIRE_FILE",
                modification_level=status.modification_level.name
                if status.modification_level is not None
                else None,
                signer_subject=status.signing_cert.subject.human_friendly,
                signing_time=status.signer_reported_dt,
                timestamp_time=ts.timestamp if ts is not None else None,
                timestamp_valid=bool(ts.valid and ts.intact) if ts is not None else None,
            )
        )
    return reports


def verify_pdf(
    pdf: bytes, trust_roots: Iterable[bytes] = (), *, allow_fetching: bool = False
) -> list[BasicSignatureReport]:
    """Synchronous :func:`async_verify_pdf`."""
    return asyncio.run(async_verify_pdf(pdf, trust_roots, allow_fetching=allow_fetching))
