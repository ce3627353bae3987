# mypy: disallow-untyped-calls=False
"""Revocation and timestamp services of the demo PKI (CRL, OCSP, RFC 3161 TSA).

The demo CAs of :mod:`signing.demo` sign their own CRLs and OCSP responses (RFC 6960
§2.6 allows the issuing CA to be the responder) and the demo TSA answers RFC 3161
requests.  Everything is computed on request from the instance's ``pki/`` files and
``pki/revocations.json`` (written by :func:`revoke`), so several worker processes
agree without sharing memory.  ``service.web.demo_pki`` serves these over HTTP on the
node; tests serve them with any WSGI server.

Demonstration only: a real deployment points ``tsa_url`` and its certificates'
CRL/OCSP pointers at the Parties' accredited services.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from .errors import ConfigurationError
from .files import atomic_write_bytes

CA_LABELS = ("kz-root", "by-root")
"""The demo CAs (file stems under ``pki/``)."""
REVOCATIONS_FILE = "revocations.json"
CRL_VALIDITY = timedelta(days=7)
"""``nextUpdate`` − ``thisUpdate`` of CRLs and OCSP responses."""

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate of a demo CA."""

    ca: str
    serial: int
    revoked_at: datetime
    reason: str = "key_compromise"


class UnknownService(ConfigurationError):
    """A request named a CA or service the demo PKI does not have."""


class DemoPkiServices:
    """The demo CAs' CRL/OCSP answers and the demo TSA, from the files in ``pki_dir``.

    :param clock: "now" for the answers' times (tests move it).
    """

    def __init__(self, pki_dir: Path, clock: Clock | None = None) -> None:
        self.pki_dir = pki_dir
        self.clock = clock or _now
        self._lock = threading.Lock()
        self._cas: dict[
            str, tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
        ]
        self._cas = {}
        self._tsa: tuple[tuple[int, int, int], Any] | None = None

    # ------------------------------------------------------------------ material

    def _ca(
        self, label: str
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
        if label not in CA_LABELS:
            raise UnknownService(f"no demo CA {label!r} (known: {', '.join(CA_LABELS)})")
        with self._lock:
            found = self._cas.get(label)
            if found is None:
                cert_path = self.pki_dir / f"{label}.pem"
                key_path = self.pki_dir / f"{label}.key.pem"
                try:
                    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
                except (OSError, ValueError) as exc:
                    raise ConfigurationError(f"demo CA {label} unreadable: {exc}") from exc
                assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
                found = (cert, key)
                self._cas[label] = found
            return found

    def revocations(self) -> list[Revocation]:
        path = self.pki_dir / REVOCATIONS_FILE
        if not path.is_file():
            return []
        items = json.loads(path.read_text(encoding="utf-8"))
        return [
            Revocation(
                i["ca"], int(i["serial"], 16), datetime.fromisoformat(i["revoked_at"]), i["reason"]
            )
            for i in items
        ]

    # ------------------------------------------------------------------ CRL

    def crl(self, ca: str) -> bytes:
        """The CA's current CRL (DER)."""
        cert, key = self._ca(ca)
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now)
            .next_update(now + CRL_VALIDITY)
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                critical=False,
            )
        )
        for rev in self.revocations():
            if rev.ca != ca or rev.revoked_at > now:
                continue
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(rev.serial)
                .revocation_date(rev.revoked_at)
                .add_extension(x509.CRLReason(x509.ReasonFlags[rev.reason]), critical=False)
                .build()
            )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # ------------------------------------------------------------------ OCSP

    def ocsp(self, ca: str, request_der: bytes) -> bytes:
        """The CA's OCSP answer (DER) to one request; malformed requests get
        ``malformedRequest``, requests about another issuer ``unauthorized``."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        cert, key = self._ca(ca)
        digest = hashes.Hash(request.hash_algorithm)
        digest.update(_spki_bits(cert))
        if request.issuer_key_hash != digest.finalize():
            return _ocsp_error(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        revoked = next(
            (
                r
                for r in self.revocations()
                if r.ca == ca and r.serial == request.serial_number and r.revoked_at <= now
            ),
            None,
        )
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + CRL_VALIDITY,
            revocation_time=revoked.revoked_at if revoked else None,
            revocation_reason=x509.ReasonFlags[revoked.reason] if revoked else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, cert)
        nonce = _ocsp_nonce(request)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    # ------------------------------------------------------------------ TSA

    def _stamper(self) -> Any:
        """The TSA's certificate and key from ``pki/tsa.pem``, reloaded when it changes
        (:func:`signing.demo.issue_tsa`); loading an RSA key costs tens of ms."""
        cert_path = self.pki_dir / "tsa.pem"
        stat = cert_path.stat()
        tag = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            if self._tsa is not None and self._tsa[0] == tag:
                return self._tsa[1]
        tsa_cert = asn1_x509.Certificate.load(
            x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(
                serialization.Encoding.DER
            )
        )
        key = serialization.load_pem_private_key((self.pki_dir / "tsa.key.pem").read_bytes(), None)
        key_info = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        loaded = (tsa_cert, key_info, key)
        with self._lock:
            self._tsa = (tag, loaded)
        return loaded

    async def timestamp(self, request_der: bytes) -> bytes:
        """The TSA's RFC 3161 reply (DER) to one request."""
        try:
            request = tsp.TimeStampReq.load(request_der)
            request.native  # noqa: B018 - parse everything now
        except ValueError:
            return bytes(
                tsp.TimeStampResp(
                    {"status": {"status": "rejection", "fail_info": {"bad_data_format"}}}
                ).dump()
            )
        cert, key_info, key = self._stamper()
        at = self.clock().astimezone(UTC).replace(microsecond=0)
        stamper = _LocalTsa(cert, key_info, key, at)
        response = await stamper.async_request_tsa_response(request)
        return bytes(response.dump())


class _LocalTsa(DummyTimeStamper):
    """pyHanko's local TSA with the private key already loaded (pyHanko reloads it from
    DER for every token), answering at a fixed time."""

    def __init__(
        self,
        cert: asn1_x509.Certificate,
        key_info: asn1_keys.PrivateKeyInfo,
        key: rsa.RSAPrivateKey,
        at: datetime,
    ) -> None:
        super().__init__(tsa_cert=cert, tsa_key=key_info, fixed_dt=at)
        self._key = key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._key.sign(
            signed_attrs.dump(), padding.PKCS1v15(), get_pyca_cryptography_hash(md_algorithm)
        )
        return signature, signed_attrs


def _spki_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (what OCSP's issuerKeyHash hashes)."""
    spki = asn1_keys.PublicKeyInfo.load(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return bytes(spki["public_key"].contents[1:])


def _ocsp_nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        ext = request.extensions.get_extension_for_class(x509.OCSPNonce)
    except x509.ExtensionNotFound:
        return None
    return ext.value.nonce


def _ocsp_error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def revoke(
    pki_dir: Path, ca: str, serial: int, at: datetime, reason: str = "key_compromise"
) -> None:
    """Record that the demo CA ``ca`` revoked certificate ``serial`` at ``at``."""
    if ca not in CA_LABELS:
        raise UnknownService(f"no demo CA {ca!r} (known: {', '.join(CA_LABELS)})")
    if reason not in x509.ReasonFlags.__members__:
        raise ConfigurationError(
            f"unknown revocation reason {reason!r} "
            f"(known: {', '.join(x509.ReasonFlags.__members__)})"
        )
    path = pki_dir / REVOCATIONS_FILE
    items = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    items = [i for i in items if not (i["ca"] == ca and int(i["serial"], 16) == serial)]
    items.append(
        {
            "ca": ca,
            "serial": format(serial, "X"),
            "revoked_at": at.astimezone(UTC).replace(microsecond=0).isoformat(),
            "reason": reason,
        }
    )
    atomic_write_bytes(path, json.dumps(items, indent=2).encode("utf-8") + b"\n")


def issuing_ca(pki_dir: Path, cert_der: bytes) -> str:
    """Which demo CA issued the certificate (its label)."""
    cert = x509.load_der_x509_certificate(cert_der)
    for label in CA_LABELS:
        path = pki_dir / f"{label}.pem"
        if path.is_file():
            ca = x509.load_pem_x509_certificate(path.read_bytes())
            if ca.subject == cert.issuer:
                return label
    raise UnknownService(f"certificate {cert.serial_number:X} was not issued by a demo CA")
