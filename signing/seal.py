# mypy: disallow-untyped-calls=False
"""The service's own seal: signs PDFs the service issues itself (verification reports).

A seal is not a signatory: it never signs a document of the Agreement, it is not in
the registry and it may sign any PDF the service makes.  Configured as a PKCS#12 file
(setting ``seal_pkcs12``) whose passphrase comes from ``$MIGDOCS_SEAL_PASSPHRASE`` or a
``<file>.pass`` file next to it.  For the demo, :func:`ensure_demo_seal` makes one
lazily in the instance directory (``pki/seal.p12``, issued by the KZ demo root) the first
time it is needed; ``build_demo`` itself creates nothing for it.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from .errors import ConfigurationError, KeyUnavailable
from .files import atomic_write_bytes
from .keys import LoadedKeySigner
from .pades import PadesOptions, async_sign_pdf

SEAL_PASSPHRASE_ENV = "MIGDOCS_SEAL_PASSPHRASE"
SEAL_FIELD_NAME = "migdocs-seal"
SEAL_REASON = "Протокол проверки электронной подписи, выданный сервисом migdocs"


@dataclass(frozen=True)
class SealConfig:
    """Where the seal key lives."""

    pkcs12: Path
    """PKCS#12 file with the seal key, its certificate and (optionally) the chain."""
    passphrase_file: Path | None = None
    """File holding the passphrase; ``None`` = ``$MIGDOCS_SEAL_PASSPHRASE``."""


class Seal:
    """A loaded seal key; ``seal(pdf)`` adds an invisible PAdES signature."""

    def __init__(self, config: SealConfig, env: dict[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        if config.passphrase_file is not None:
            try:
                passphrase = config.passphrase_file.read_text("utf-8").strip()
            except OSError as exc:
                raise KeyUnavailable(
                    f"cannot read the seal passphrase file: {exc.strerror}"
                ) from exc
        else:
            found = environ.get(SEAL_PASSPHRASE_ENV)
            if found is None:
                raise KeyUnavailable(f"seal passphrase not provided: set {SEAL_PASSPHRASE_ENV}")
            passphrase = found
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(
                config.pkcs12.read_bytes(), passphrase.encode()
            )
        except OSError as exc:
            raise KeyUnavailable(f"cannot read seal file {config.pkcs12}: {exc.strerror}") from exc
        except ValueError as exc:
            raise KeyUnavailable(
                f"cannot open seal file {config.pkcs12} (wrong passphrase or corrupt file)"
            ) from exc
        if key is None or cert is None:
            raise ConfigurationError(f"seal file {config.pkcs12} lacks a key or a certificate")
        der = cert.public_bytes(serialization.Encoding.DER)
        self.certificate = asn1_x509.Certificate.load(der)
        chain = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra
        ]
        self._signer = LoadedKeySigner(self.certificate, key, chain)
        self.name = cert.subject.rfc4514_string()

    async def async_seal(self, pdf: bytes, reason: str = SEAL_REASON) -> bytes:
        result = await async_sign_pdf(
            pdf,
            self._signer,
            signer_name="migdocs",
            options=PadesOptions(reason=reason, visible=False, field_name=SEAL_FIELD_NAME),
        )
        return result.pdf


_demo_lock = threading.Lock()


def ensure_demo_seal(instance: Path) -> SealConfig:
    """The demo seal in ``instance`` (``pki/seal.p12``), made on first call.

    Issued by the KZ demo root (``pki/kz-root.pem`` + key), P-256, with a random
    passphrase in ``secrets/seal.pass`` (0600).
    """
    from .demo import _build, _name

    p12 = instance / "pki" / "seal.p12"
    secret = instance / "secrets" / "seal.pass"
    with _demo_lock:
        if p12.is_file() and secret.is_file():
            return SealConfig(p12, secret)
        root_pem = instance / "pki" / "kz-root.pem"
        root_key_pem = instance / "pki" / "kz-root.key.pem"
        try:
            root = x509.load_pem_x509_certificate(root_pem.read_bytes())
            root_key = serialization.load_pem_private_key(root_key_pem.read_bytes(), None)
        except OSError as exc:
            raise ConfigurationError(
                f"no seal configured and no demo root to issue one ({exc.filename}); set "
                "seal_pkcs12 or run `migdocs demo`"
            ) from exc
        assert isinstance(root_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        org = root.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
        cert = _build(
            _name(
                "migdocs verification service seal (demo)",
                str(org[0].value) if org else "migdocs",
                "KZ",
            ),
            key.public_key(),
            root.subject,
            root_key,
            ca=False,
            years=3,
        )
        passphrase = secrets.token_urlsafe(24)
        data = pkcs12.serialize_key_and_certificates(
            b"migdocs-seal",
            key,
            cert,
            [root],
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        secret.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(secret, passphrase.encode() + b"\n", 0o600)
        atomic_write_bytes(p12, data, 0o600)
        return SealConfig(p12, secret)
