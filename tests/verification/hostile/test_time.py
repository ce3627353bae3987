"""Time attacks: a corrupted or untrusted signature timestamp, and the B-B claimed
signing time (back-dated, in the future, or with a certificate expired now)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from asn1crypto import cms, x509
from certomancer.registry import PKIArchitecture
from pyhanko.sign.timestamps import HTTPTimeStamper

from service.domain.verification import trust_root_files
from signing.verification import SessionRegistryLookup, TrustRoots, verify_document
from tests.verification.conftest import Env
from tests.verification.hostile.conftest import check, demo_signer, sign, verify_api


def _corrupt_timestamp(pdf: bytes) -> bytes:
    """Flip one bit of the TSA's signature inside the signature's timestamp token (the
    token is an unsigned attribute: the document signature itself stays intact)."""
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m is not None
    a, b = int(m.group(1)), int(m.group(2))
    content = cms.ContentInfo.load(bytes.fromhex(pdf[a + 1 : b - 1].decode()))
    signer_info = content["content"]["signer_infos"][0]
    [attr] = [
        x for x in signer_info["unsigned_attrs"] if x["type"].native == "signature_time_stamp_token"
    ]
    token_signer = attr["values"][0]["content"]["signer_infos"][0]
    value = bytearray(token_signer["signature"].native)
    value[len(value) // 2] ^= 0x01
    token_signer["signature"] = bytes(value)
    hex_cms = content.dump(force=True).hex().encode()
    assert len(hex_cms) <= b - a - 2
    return pdf[: a + 1] + hex_cms.ljust(b - a - 2, b"0") + pdf[b - 1 :]


def test_corrupted_timestamp_is_no_proof_of_time(
    sqlite_env: Env, rendered: bytes, tsa_url: str
) -> None:
    stamped = sign(rendered, demo_signer(sqlite_env.instance), timestamper=HTTPTimeStamper(tsa_url))
    genuine = verify_api(sqlite_env, stamped)
    [sig] = genuine["signatures"]
    # the test TSA is not in the trust list: a valid token, but no proof of time
    assert check(sig["checks"], "timestamp")["status"] == "WARNING"
    assert sig["level"] == "B-B" and sig["timestamp_time"] is not None
    assert genuine["indication"] == "TOTAL_PASSED"

    report = verify_api(sqlite_env, _corrupt_timestamp(stamped))
    [sig] = report["signatures"]
    assert check(sig["checks"], "integrity")["status"] == "PASSED"
    assert check(sig["checks"], "timestamp")["status"] == "FAILED"
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "NO_POE")
    assert sig["level"] == "B-B"


def test_trusted_timestamp_gives_b_t(
    sqlite_env: Env, rendered: bytes, tsa_url: str, pki: PKIArchitecture
) -> None:
    stamped = sign(rendered, demo_signer(sqlite_env.instance), timestamper=HTTPTimeStamper(tsa_url))
    settings = sqlite_env.services.settings
    tsa_root = x509.Certificate.load(pki.get_cert("kz-root").dump())  # the test TSA's CA
    roots = TrustRoots(
        [*TrustRoots.from_pem_files(trust_root_files(settings)).certificates, tsa_root]
    )
    report = verify_document(
        stamped,
        trust_roots=roots,
        registry_lookup=SessionRegistryLookup(sqlite_env.services.database.sessions),
    )
    [sig] = report.signatures
    assert sig.level == "B-T" and sig.timestamp_time is not None
    assert report.indication.value == "TOTAL_PASSED"


def test_claimed_signing_time_in_the_future_is_total_failed(
    sqlite_env: Env, rendered: bytes
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3650)).replace(microsecond=0)
    pdf = sign(rendered, demo_signer(sqlite_env.instance), signing_time=future)
    report = verify_api(sqlite_env, pdf)
    [sig] = report["signatures"]
    assert check(sig["checks"], "signing_time")["status"] == "FAILED"
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "NOT_YET_VALID")


def test_certificate_expired_now_without_poe_is_out_of_bounds_no_poe(
    sqlite_env: Env, rendered: bytes
) -> None:
    pdf = sign(rendered, demo_signer(sqlite_env.instance))
    settings = sqlite_env.services.settings
    report = verify_document(
        pdf,
        trust_roots=TrustRoots.from_pem_files(trust_root_files(settings)),
        registry_lookup=SessionRegistryLookup(sqlite_env.services.database.sessions),
        now=datetime.now(UTC) + timedelta(days=3 * 365 + 30),
    )
    assert report.indication.value == "INDETERMINATE"
    assert report.sub_indication == "OUT_OF_BOUNDS_NO_POE"
