"""Regenerate the test PKI key files (run once; the keys are committed).

Usage: python tests/signing/pki/generate_keys.py
"""

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

KEYS: dict[str, str] = {
    "kz-root": "rsa3072",
    "by-root": "rsa3072",
    "other-root": "rsa2048",
    "tsa": "rsa2048",
    "ocsp": "rsa2048",
    "signer-rsa2048": "rsa2048",
    "signer-rsa3072": "rsa3072",
    "signer-p256": "p256",
    "signer-by": "p256",
    "signer-other": "rsa2048",
}


def _make(kind: str) -> PrivateKeyTypes:
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(65537, int(kind.removeprefix("rsa")))


def main() -> None:
    out = Path(__file__).parent / "keys"
    out.mkdir(exist_ok=True)
    for name, kind in KEYS.items():
        key = _make(kind)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (out / f"{name}.key.pem").write_bytes(pem)


if __name__ == "__main__":
    main()
