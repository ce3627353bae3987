"""Key backends: PKCS#12 (passphrase from env/file), PKCS#11 on a real SoftHSM2 token, cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from certomancer.registry import PKIArchitecture
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.errors import CertificateNotUsable, KeyUnavailable
from signing.keys import KeyStore, Pkcs11Backend, Pkcs12Backend
from signing.pades import PadesOptions, sign_pdf
from signing.registry import KeyReference
from signing.verify_basic import verify_pdf

from .conftest import cert_der, load_key

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "migdocs-test"
PIN = "246810"


def _p12(pki: PKIArchitecture, tmp_path: Path, passphrase: bytes) -> Path:
    key = load_key("signer-rsa2048")
    from cryptography import x509 as cx509

    cert = cx509.load_der_x509_certificate(cert_der(pki, "signer-rsa2048"))
    root = cx509.load_der_x509_certificate(cert_der(pki, "kz-root"))
    data = pkcs12.serialize_key_and_certificates(
        b"signer", key, cert, [root], serialization.BestAvailableEncryption(passphrase)
    )
    path = tmp_path / "signer.p12"
    path.write_bytes(data)
    return path


def test_pkcs12_passphrase_from_env(pki: PKIArchitecture, tmp_path: Path, input_pdf: bytes) -> None:
    path = _p12(pki, tmp_path, b"s3cret-pass")
    backend = Pkcs12Backend(env={"MY_PASS": "s3cret-pass"})
    signer = backend.load_signer(
        f"{path};passphrase-env=MY_PASS", x509.Certificate.load(cert_der(pki, "signer-rsa2048"))
    )
    result = sign_pdf(input_pdf, signer, signer_name="x", options=PadesOptions(visible=False))
    [report] = verify_pdf(result.pdf, [cert_der(pki, "kz-root")])
    assert report.ok


def test_pkcs12_passphrase_from_file(pki: PKIArchitecture, tmp_path: Path) -> None:
    path = _p12(pki, tmp_path, b"from-a-file")
    secret = tmp_path / "pass.txt"
    secret.write_text("from-a-file\n")
    store = KeyStore([Pkcs12Backend(env={})])
    ref = KeyReference("pkcs12", f"{path};passphrase-file={secret}")
    signer = store.signer_for(ref, cert_der(pki, "signer-rsa2048"))
    assert store.signer_for(ref, cert_der(pki, "signer-rsa2048")) is signer, "cached per process"


def test_pkcs12_wrong_passphrase_is_not_echoed(pki: PKIArchitecture, tmp_path: Path) -> None:
    path = _p12(pki, tmp_path, b"right")
    backend = Pkcs12Backend(env={"MIGDOCS_KEY_PASSPHRASE": "wrong-secret-value"})
    with pytest.raises(KeyUnavailable) as info:
        backend.load_signer(str(path), x509.Certificate.load(cert_der(pki, "signer-rsa2048")))
    assert "wrong passphrase" in str(info.value)
    assert "wrong-secret-value" not in str(info.value)


def test_pkcs12_missing_passphrase(pki: PKIArchitecture, tmp_path: Path) -> None:
    path = _p12(pki, tmp_path, b"x")
    with pytest.raises(KeyUnavailable, match="MIGDOCS_KEY_PASSPHRASE"):
        Pkcs12Backend(env={}).load_signer(
            str(path), x509.Certificate.load(cert_der(pki, "signer-rsa2048"))
        )


def test_pkcs12_key_must_match_registered_certificate(pki: PKIArchitecture, tmp_path: Path) -> None:
    path = _p12(pki, tmp_path, b"x")
    with pytest.raises(CertificateNotUsable) as info:
        Pkcs12Backend(env={"MIGDOCS_KEY_PASSPHRASE": "x"}).load_signer(
            str(path), x509.Certificate.load(cert_der(pki, "signer-rsa3072"))
        )
    assert info.value.reason == "key-mismatch"


# ----------------------------------------------------------------------------- PKCS#11


@pytest.fixture(scope="session")
def softhsm_token(pki: PKIArchitecture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not SOFTHSM.exists() or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 not installed")
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass
    from pkcs11.util.ec import decode_ec_private_key

    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "13579",
        ],
        check=True,
        capture_output=True,
    )
    key = load_key("signer-p256")
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    cert = x509.Certificate.load(cert_der(pki, "signer-p256"))
    lib = pkcs11.lib(str(SOFTHSM))
    token = lib.get_token(token_label=TOKEN)
    with token.open(rw=True, user_pin=PIN) as session:
        attrs: dict[Any, Any] = dict(decode_ec_private_key(key_der))
        attrs.update(
            {
                Attribute.LABEL: "signer",
                Attribute.ID: b"\x01",
                Attribute.TOKEN: True,
                Attribute.SENSITIVE: True,
                Attribute.SIGN: True,
            }
        )
        session.create_object(attrs)
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.VALUE: cert.dump(),
                Attribute.SUBJECT: cert.subject.dump(),
                Attribute.LABEL: "signer",
                Attribute.ID: b"\x01",
                Attribute.TOKEN: True,
            }
        )
    yield TOKEN
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def test_pkcs11_softhsm_p256_signature_validates(
    softhsm_token: str, pki: PKIArchitecture, input_pdf: bytes, tmp_path: Path
) -> None:
    backend = Pkcs11Backend(env={"TEST_PIN": PIN})
    store = KeyStore([backend])
    ref = KeyReference(
        "pkcs11", f"module={SOFTHSM};token={softhsm_token};key=signer;pin-env=TEST_PIN"
    )
    try:
        signer = store.signer_for(ref, cert_der(pki, "signer-p256"))
        assert store.signer_for(ref, cert_der(pki, "signer-p256")) is signer
        result = sign_pdf(
            input_pdf,
            signer,
            signer_name="Сидорова Анна Сергеевна",
            options=PadesOptions(visible=False),
        )
        result2 = sign_pdf(
            input_pdf,
            signer,
            signer_name="Сидорова Анна Сергеевна",
            options=PadesOptions(visible=False),
        )
    finally:
        store.clear()
    for res in (result, result2):
        [report] = verify_pdf(res.pdf, [cert_der(pki, "kz-root")])
        assert report.ok
        assert b"/Version /2.0" not in res.pdf
    if shutil.which("pdfsig"):
        out_pdf = tmp_path / "hsm.pdf"
        out_pdf.write_bytes(result.pdf)
        out = subprocess.run(["pdfsig", str(out_pdf)], capture_output=True, text=True, check=True)
        assert "Signature is Valid" in out.stdout


def test_pkcs11_wrong_pin(softhsm_token: str, pki: PKIArchitecture) -> None:
    store = KeyStore([Pkcs11Backend(env={"TEST_PIN": "000000"})])
    ref = KeyReference(
        "pkcs11", f"module={SOFTHSM};token={softhsm_token};key=signer;pin-env=TEST_PIN"
    )
    with pytest.raises(KeyUnavailable) as info:
        store.signer_for(ref, cert_der(pki, "signer-p256"))
    assert "000000" not in str(info.value)
    store.clear()
