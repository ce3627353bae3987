"""Demo identities of a node, issued by its Party's demo root (``<instance>/pki``).

* the **node certificate** (TLS server and client, SAN ``localhost`` / ``127.0.0.1``):
  ``pki/node-<party>.pem`` and ``pki/node-<party>.key.pem`` (0600);
* the **node seal** that signs its receipts: ``pki/node-<party>-seal.p12`` with the
  passphrase in ``pki/node-<party>-seal.p12.pass`` (0600) — settings ``node_cert``,
  ``node_key`` and ``seal_pkcs12``.

Production nodes get both from their Party's PKI; this is for the demo and the tests.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from service.exchange.errors import ExchangeUnavailable
from signing.files import atomic_write_bytes


@dataclass(frozen=True)
class NodeIdentity:
    party: str
    root: Path
    """The Party's root certificate (PEM): what the peer registers as trust root."""
    cert: Path
    key: Path
    seal_pkcs12: Path


def _root(instance: Path, party: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    base = instance / "pki" / f"{party.lower()}-root"
    try:
        cert = x509.load_pem_x509_certificate(base.with_suffix(".pem").read_bytes())
        key = serialization.load_pem_private_key(
            (instance / "pki" / f"{party.lower()}-root.key.pem").read_bytes(), None
        )
    except OSError as exc:
        raise ExchangeUnavailable(
            f"no demo root for {party} ({exc.filename}); run `migdocs demo`"
        ) from None
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return cert, key  # type: ignore[return-value]


def _certificate(
    subject: str,
    party: str,
    public_key: ec.EllipticCurvePublicKey,
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    tls: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, party),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"migdocs {party} node"),
                    x509.NameAttribute(NameOID.COMMON_NAME, subject),
                ]
            )
        )
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    if tls:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        usage = x509.KeyUsage(True, False, False, False, True, False, False, False, False)
    else:
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    return builder.add_extension(usage, critical=True).sign(root_key, hashes.SHA256())


def issue_node_identity(instance: Path, party: str) -> NodeIdentity:
    """Issue (or re-issue) the node certificate and seal of ``party`` in ``instance``."""
    root, root_key = _root(instance, party)
    pki = instance / "pki"
    name = f"node-{party.lower()}"
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = _certificate(
        f"migdocs node {party}", party, tls_key.public_key(), root, root_key, True
    )
    atomic_write_bytes(
        pki / f"{name}.pem", tls_cert.public_bytes(serialization.Encoding.PEM), 0o644
    )
    atomic_write_bytes(
        pki / f"{name}.key.pem",
        tls_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal_cert = _certificate(
        f"migdocs node {party} receipt seal", party, seal_key.public_key(), root, root_key, False
    )
    passphrase = secrets.token_urlsafe(24)
    p12 = pki / f"{name}-seal.p12"
    atomic_write_bytes(p12.with_name(p12.name + ".pass"), passphrase.encode() + b"\n", 0o600)
    atomic_write_bytes(
        p12,
        pkcs12.serialize_key_and_certificates(
            name.encode(),
            seal_key,
            seal_cert,
            [root],
            serialization.BestAvailableEncryption(passphrase.encode()),
        ),
        0o600,
    )
    return NodeIdentity(
        party, pki / f"{party.lower()}-root.pem", pki / f"{name}.pem", pki / f"{name}.key.pem", p12
    )
