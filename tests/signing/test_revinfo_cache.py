"""The B-LT revocation cache: reused while fresh, never past max_age or nextUpdate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.revinfo import RevocationCache


def _crl(next_update: datetime) -> asn1_crl.CertificateList:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    built = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
        .last_update(now - timedelta(minutes=1))
        .next_update(next_update)
        .sign(key, hashes.SHA256())
    )
    return asn1_crl.CertificateList.load(built.public_bytes(serialization.Encoding.DER))


def test_reused_within_max_age_then_dropped() -> None:
    ticks = [1000.0]
    cache = RevocationCache(60, clock=lambda: ticks[0])
    item = _crl(datetime.now(UTC) + timedelta(days=7))
    cache.add([item, item])
    assert cache.fresh() == ([], [item])
    ticks[0] += 59
    assert cache.fresh()[1] == [item]
    ticks[0] += 2
    assert cache.fresh() == ([], [])


def test_never_past_next_update_and_off_with_zero() -> None:
    cache = RevocationCache(3600)
    cache.add([_crl(datetime.now(UTC) - timedelta(seconds=1))])
    assert cache.fresh() == ([], [])
    off = RevocationCache(0)
    off.add([_crl(datetime.now(UTC) + timedelta(days=1))])
    assert off.fresh() == ([], [])
