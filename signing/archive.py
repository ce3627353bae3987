# mypy: disallow-untyped-calls=False
"""PAdES B-LTA: document timestamps over the DSS, and their renewal.

:func:`async_add_archive_timestamp` writes ONE incremental revision (PDF/A-safe, see
:class:`signing.pades.PdfAIncrementalWriter`) holding

1. revocation data (OCSP/CRL) and certificates for the chain of the *previous* newest
   timestamp — the signature timestamp, or the last document timestamp — and for the new
   TSA's certificate, added to the DSS; then
2. a document timestamp (``/DocTimeStamp``, ``ETSI.RFC3161``) over the whole file,
   including that DSS.

Done once right after signing this turns B-LT into B-LTA; done again before the newest
timestamp's TSA certificate expires (or its algorithm weakens) it extends the proof of
existence of everything before it (``migdocs timestamps renew``).  Earlier revisions,
signatures and the PDF/A identification are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from asn1crypto import cms, tsp, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from . import speedups
from .errors import InvalidDocument, RevocationInfoUnavailable, TimestampUnavailable
from .pades import LtvConfig, PdfAIncrementalWriter
from .timestamps import fetcher_backend

logger = logging.getLogger(__name__)
speedups.install()  # the signed file is re-read: its /Contents hex strings are hot

ARCHIVE_FIELD_PREFIX = "migdocs-archive-timestamp"
BYTES_RESERVED = 16384
"""Room for the timestamp token (hex): the TSA chain plus the token itself."""
WEAK_DIGESTS = frozenset({"md5", "sha1"})
"""Digest algorithms no longer accepted for a proof of existence."""
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class TimestampInfo:
    """One timestamp in a document: the signature's or a document timestamp."""

    kind: str
    """``signature`` (in a signature's unsigned attributes) or ``document``."""
    field_name: str
    time: datetime
    tsa_subject: str
    tsa_not_after: datetime
    digest_algorithm: str
    token: cms.ContentInfo

    def weak(self) -> bool:
        """The token's digest or the TSA key is no longer strong enough."""
        cert = self.tsa_certificate
        bits = cert.public_key.bit_size if cert is not None else 0
        algo = cert.public_key.algorithm if cert is not None else ""
        return self.digest_algorithm in WEAK_DIGESTS or (algo == "rsa" and bits < MIN_RSA_BITS)

    @property
    def tsa_certificate(self) -> x509.Certificate | None:
        return token_signer(self.token["content"])


def token_signer(sd: cms.SignedData) -> x509.Certificate | None:
    sid = sd["signer_infos"][0]["sid"]
    for choice in sd["certificates"] or ():
        cert = choice.chosen
        if not isinstance(cert, x509.Certificate):
            continue
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


def _info(kind: str, field_name: str, token: cms.ContentInfo) -> TimestampInfo | None:
    sd = token["content"]
    tst = tsp.TSTInfo.load(sd["encap_content_info"]["content"].parsed.dump())
    cert = token_signer(sd)
    if cert is None:
        return None
    return TimestampInfo(
        kind=kind,
        field_name=field_name,
        time=tst["gen_time"].native,
        tsa_subject=cert.subject.human_friendly,
        tsa_not_after=cert.not_valid_after,
        digest_algorithm=tst["message_imprint"]["hash_algorithm"]["algorithm"].native,
        token=token,
    )


def timestamps_in(pdf: bytes) -> list[TimestampInfo]:
    """Every timestamp in the file, oldest revision first."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    found: list[tuple[int, TimestampInfo]] = []
    for sig in reader.embedded_signatures:
        name = str(sig.field_name)
        if sig.sig_object.get("/Type") == "/DocTimeStamp":
            info = _info("document", name, cms.ContentInfo.load(bytes(sig.pkcs7_content)))
        else:
            attrs = sig.signer_info["unsigned_attrs"]
            tokens = [
                a["values"][0]
                for a in (attrs if attrs.native is not None else ())
                if a["type"].native == "signature_time_stamp_token"
            ]
            info = _info("signature", name, tokens[0]) if tokens else None
        if info is not None:
            found.append((int(sig.signed_revision), info))
    found.sort(key=lambda item: item[0])
    return [info for _, info in found]


async def _tsa_paths(
    certs: Iterable[x509.Certificate], vc: ValidationContext, others: list[x509.Certificate]
) -> list[Any]:
    paths = []
    for cert in certs:
        validator = CertificateValidator(cert, intermediate_certs=others, validation_context=vc)
        paths.append(await validator.async_validate_usage(set(), {"time_stamping"}))
    return paths


async def async_add_archive_timestamp(
    pdf: bytes,
    timestamper: TimeStamper,
    ltv: LtvConfig,
    *,
    md_algorithm: str = "sha256",
) -> bytes:
    """Append DSS data for the newest timestamp's TSA and a new document timestamp."""
    try:
        previous = timestamps_in(pdf)
        writer = PdfAIncrementalWriter(BytesIO(pdf), strict=False)
    except Exception as exc:  # unreadable structure: nothing is written
        raise InvalidDocument(f"cannot read the PDF to timestamp it: {exc}") from exc
    roots = [x509.Certificate.load(d) for d in ltv.trust_roots]
    others = [x509.Certificate.load(d) for d in ltv.other_certs]
    backend = fetcher_backend()
    vc = ValidationContext(
        trust_roots=roots,
        other_certs=others,
        allow_fetching=True,
        revocation_mode="hard-fail",
        fetcher_backend=backend,
        # "now" is fixed when the context is made; answers fetched a moment later (a
        # slow responder, a loaded machine) must not count as "too recent"
        retroactive_revinfo=True,
    )
    try:
        token_certs: list[x509.Certificate] = []
        if previous and previous[-1].tsa_certificate is not None:
            last = previous[-1]
            token_certs.append(last.tsa_certificate)
            others += [
                c.chosen
                for c in last.token["content"]["certificates"] or ()
                if isinstance(c.chosen, x509.Certificate)
            ]
        paths = await _tsa_paths(token_certs, vc, others)
        paths += [p async for p in timestamper.validation_paths(vc)]
    except TimestampUnavailable:
        raise
    except Exception as exc:  # certvalidator's path/revocation errors, HTTP errors
        await vc.aclose()
        await backend.close()
        raise RevocationInfoUnavailable(
            f"cannot gather revocation information for the timestamp chain: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        DocumentSecurityStore.supply_dss_in_writer(
            writer, None, paths=paths, validation_context=vc, embed_roots=True
        )
        n = 1 + sum(1 for t in previous if t.kind == "document")
        stamper = PdfTimeStamper(timestamper, field_name=f"{ARCHIVE_FIELD_PREFIX}-{n}")
        out = BytesIO()
        await stamper.async_timestamp_pdf(
            writer, md_algorithm, bytes_reserved=BYTES_RESERVED, output=out
        )
    except Exception as exc:
        from pyhanko.sign.timestamps import TimestampRequestError

        if isinstance(exc, TimestampRequestError) or isinstance(
            exc.__cause__, TimestampRequestError
        ):
            raise TimestampUnavailable(f"timestamp authority did not answer: {exc}") from exc
        raise
    finally:
        await vc.aclose()
        await backend.close()
    return out.getvalue()


def needs_renewal(pdf: bytes, before: datetime) -> TimestampInfo | None:
    """The newest timestamp if it must be renewed: its TSA certificate expires before
    ``before`` or its algorithm is weak; ``None`` if the file needs nothing (or has no
    timestamp at all: a B-B signature has nothing to extend)."""
    stamps = timestamps_in(pdf)
    if not stamps:
        return None
    last = stamps[-1]
    if last.tsa_not_after.astimezone(UTC) <= before.astimezone(UTC) or last.weak():
        return last
    return None
