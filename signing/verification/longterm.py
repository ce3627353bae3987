# mypy: disallow-untyped-calls=False
"""Long-term validation: proofs of existence (POE) from timestamps, ETSI EN 319 102-1 style.

Rules (the README prints them):

* Every timestamp — the signature's and each document timestamp (B-LTA) — is checked
  *at its own time*: its TSA certificate chains to a trust root and is not revoked at
  that time, by the revocation data in the DSS (data gathered after the time counts).
* A timestamp proves its time only while its TSA certificate is unexpired at its
  *control time*: the time of the next valid document timestamp (which proves that the
  older token existed then), or the verification time for the newest one.  Renewing
  (``migdocs timestamps renew``) adds a newer link before the newest TSA certificate
  expires.
* With a valid signature timestamp at ``t`` and revocation data for the whole chain in
  the DSS, the signer's certificate is validated *at* ``t``: a certificate that expired
  or was revoked after ``t`` is fine; revoked before ``t`` is ``REVOKED``.  Without that
  (B-B, or a timestamp that proves nothing) the certificate is judged now, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import tsp, x509
from pyhanko.sign.validation import async_validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from .clip import MAX_NAME_CHARS, clip
from .report import FAILED, PASSED, WARNING, CheckStatus


@dataclass(frozen=True)
class ProofOfExistence:
    """One link of the chain of proofs of existence (for the report)."""

    kind: str
    """``signature`` (the signature's timestamp) or ``document`` (a B-LTA timestamp)."""
    field_name: str
    time: datetime
    """The time the token proves."""
    tsa: str
    """The TSA certificate's subject."""
    tsa_not_after: datetime | None
    status: CheckStatus
    """``PASSED``: proves its time; ``WARNING``/``FAILED``: proves nothing."""
    message: str
    """One Russian sentence."""


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def revinfo_context(ctx: Any, moment: datetime) -> ValidationContext:
    """A validation context at ``moment`` over the DSS, revocation required where the
    certificates point to it, data issued after ``moment`` accepted."""
    ocsps, crls, dss_certs = ctx.dss
    return ValidationContext(
        trust_roots=list(ctx.roots.certificates),
        other_certs=dss_certs,
        ocsps=ocsps,
        crls=crls,
        moment=moment,
        allow_fetching=False,
        revocation_mode="hard-fail",
        retroactive_revinfo=True,
    )


def token_time(sig: Any) -> datetime | None:
    """The time in the signature's timestamp token (unverified), if it has one."""
    try:
        attrs = sig.signer_info["unsigned_attrs"]
        if attrs.native is None:
            return None
        for attr in attrs:
            if attr["type"].native == "signature_time_stamp_token":
                sd = attr["values"][0]["content"]
                tst = tsp.TSTInfo.load(sd["encap_content_info"]["content"].parsed.dump())
                value: datetime = tst["gen_time"].native
                return value
    except Exception:  # malformed token: no time; pyHanko reports the token itself
        return None
    return None


def is_document_timestamp(sig: Any) -> bool:
    """A ``/DocTimeStamp`` (B-LTA archive timestamp), not a signature."""
    return bool(sig.sig_object.get("/Type") == "/DocTimeStamp")


def _tsa_cert(status: Any) -> x509.Certificate | None:
    cert = getattr(status, "signing_cert", None)
    return cert if isinstance(cert, x509.Certificate) else None


async def document_timestamps(doc_ts: list[Any], ctx: Any) -> list[tuple[int, ProofOfExistence]]:
    """Validate the document timestamps (revision order) as a chain, newest first back.

    Returns ``(signed revision, link)`` pairs in revision order."""
    checked: list[tuple[int, datetime, Any, bool]] = []
    for sig in doc_ts:
        ctx.budget.check_time()
        try:
            moment = sig.signed_data["encap_content_info"]["content"].parsed["gen_time"].native
            vc = revinfo_context(ctx, moment)
            try:
                status = await async_validate_pdf_timestamp(sig, validation_context=vc)
            finally:
                await vc.aclose()
            ok = bool(status.intact and status.valid and status.trusted)
            checked.append((int(sig.signed_revision), status.timestamp, status, ok))
        except Exception:  # unreadable token: a link that proves nothing
            checked.append((int(sig.signed_revision), ctx.verified_at, None, False))
    links: list[tuple[int, ProofOfExistence]] = []
    control = ctx.verified_at
    for revision, when, status, ok in reversed(checked):
        cert = _tsa_cert(status) if status is not None else None
        not_after = cert.not_valid_after if cert is not None else None
        subject = clip(cert.subject.human_friendly, MAX_NAME_CHARS) if cert is not None else "?"
        name = str(doc_ts[[int(s.signed_revision) for s in doc_ts].index(revision)].field_name)
        if not ok:
            link = ProofOfExistence(
                "document",
                name,
                when,
                subject,
                not_after,
                FAILED,
                f"Архивная метка времени {_fmt(when)} не проверена: токен повреждён, "
                "служба не доверенная или её сертификат отозван",
            )
        elif not_after is not None and not_after < control:
            link = ProofOfExistence(
                "document",
                name,
                when,
                subject,
                not_after,
                WARNING,
                f"Архивная метка времени {_fmt(when)}: сертификат службы истёк "
                f"{_fmt(not_after)}, а более поздней метки нет — время не доказано",
            )
        else:
            link = ProofOfExistence(
                "document",
                name,
                when,
                subject,
                not_after,
                PASSED,
                f"Архивная метка времени {_fmt(when)} доказывает существование документа "
                f"со всеми данными проверки (служба: {subject})",
            )
            control = when
        links.append((revision, link))
    links.reverse()
    return links


def control_time(
    revision: int, links: list[tuple[int, ProofOfExistence]], now: datetime
) -> datetime:
    """When a token of ``revision`` is proven to exist: the first valid document
    timestamp after it (the chain behind it is valid by construction), else ``now``."""
    for rev, link in links:
        if rev > revision:
            return link.time if link.status is PASSED else now
    return now


def archived(revision: int, links: list[tuple[int, ProofOfExistence]]) -> bool:
    """A valid document timestamp covers this revision (B-LTA)."""
    return any(rev > revision and link.status is PASSED for rev, link in links)


def signature_link(field_name: str, status: Any, control: datetime) -> ProofOfExistence | None:
    """The signature timestamp as a link of the chain (``None`` if there is none)."""
    ts = status.timestamp_validity
    if ts is None:
        return None
    cert = _tsa_cert(ts)
    not_after = cert.not_valid_after if cert is not None else None
    subject = clip(cert.subject.human_friendly, MAX_NAME_CHARS) if cert is not None else "?"
    if not (ts.intact and ts.valid and ts.trusted):
        return ProofOfExistence(
            "signature",
            field_name,
            ts.timestamp,
            subject,
            not_after,
            FAILED,
            f"Метка времени подписи {_fmt(ts.timestamp)} не доказывает время подписания",
        )
    if not_after is not None and not_after < control:
        return ProofOfExistence(
            "signature",
            field_name,
            ts.timestamp,
            subject,
            not_after,
            WARNING,
            f"Метка времени подписи {_fmt(ts.timestamp)}: сертификат службы истёк "
            f"{_fmt(not_after)}, а архивной метки до этого нет — время не доказано",
        )
    return ProofOfExistence(
        "signature",
        field_name,
        ts.timestamp,
        subject,
        not_after,
        PASSED,
        f"Метка времени подписи {_fmt(ts.timestamp)} доказывает, что подпись существовала "
        f"в это время (служба: {subject})",
    )
