"""The external-signer interface (issue 14, algorithm agility) with a stand-in mechanism:
a key held by an object that only signs bytes, as an HSM vendor mechanism or a remote
signing service would."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from asn1crypto import algos, x509
from certomancer.registry import PKIArchitecture
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session, sessionmaker

from signing.api import DocumentSigner, SigningConfig, SignRequest
from signing.errors import KeyUnavailable
from signing.external import ExternalBackend, register_mechanism
from signing.keys import KeyStore
from signing.pades import LtvConfig
from signing.registry import KeyReference, NewSignatory, Registry
from signing.verify_basic import verify_pdf

from .conftest import cert_der, load_key

BIGN_WITH_HBELT = "1.2.112.0.2.0.34.101.45.12"
"""STB 34.101.45 signature OID (bign-with-hbelt)."""


class StandInToken:
    """Stands in for an HSM slot or a remote signer: holds keys, signs, counts."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.calls = 0


class StandInMechanism:
    digest_algorithm = "sha256"
    signature_size = 128

    def __init__(self, token: StandInToken, label: str, oid: str | None) -> None:
        self.token, self.label = token, label
        self.signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": oid or "sha256_ecdsa"})

    def sign(self, data: bytes) -> bytes:
        self.token.calls += 1
        return self.token.keys[self.label].sign(data, ec.ECDSA(hashes.SHA256()))


TOKEN = StandInToken()


def _factory(pairs: Mapping[str, str], certificate: x509.Certificate) -> StandInMechanism:
    if pairs["key"] not in TOKEN.keys:
        raise KeyUnavailable(f"no key {pairs['key']!r} on the stand-in token")
    return StandInMechanism(TOKEN, pairs["key"], pairs.get("oid"))


register_mechanism("stand-in", _factory)


@pytest.fixture()
def external_registry(
    session_factory: sessionmaker[Session], pki: PKIArchitecture
) -> sessionmaker[Session]:
    TOKEN.keys["p256"] = load_key("signer-p256")
    with session_factory() as session:
        reg = Registry(session)
        reg.ensure_default_document_types()
        reg.ensure_default_authorities(datetime(2019, 9, 25, tzinfo=UTC))
        for sid, locator in (
            ("kz-ext", "mechanism=stand-in;key=p256"),
            ("kz-bign", f"mechanism=stand-in;key=p256;oid={BIGN_WITH_HBELT}"),
            ("kz-missing", "mechanism=stand-in;key=nothing"),
            ("kz-unknown", "mechanism=vendor-gost;key=k"),
        ):
            reg.add_signatory(
                NewSignatory(
                    signatory_id=sid,
                    authority_code="KZ-MTSZN",
                    full_name_ru="Сидорова Анна Сергеевна",
                    full_name_latin="Sidorova Anna",
                    position_ru="Директор Департамента миграции",
                    certificate_der=cert_der(pki, "signer-p256"),
                    key=KeyReference("external", locator),
                    document_types=("request",),
                    valid_from=datetime(2024, 1, 1, tzinfo=UTC),
                    valid_to=None,
                )
            )
        session.commit()
    return session_factory


def _signer(registry: sessionmaker[Session], **config: Any) -> DocumentSigner:
    return DocumentSigner(
        registry, keys=KeyStore([ExternalBackend()]), config=SigningConfig(**config)
    )


def _request(pdf: bytes, sid: str) -> SignRequest:
    return SignRequest(pdf=pdf, signatory_id=sid, document_type="request", visible=False)


def test_stand_in_mechanism_signs_b_lt_through_the_interface(
    external_registry: sessionmaker[Session], input_pdf: bytes, tsa_url: str, pki: PKIArchitecture
) -> None:
    root = cert_der(pki, "kz-root")
    signer = _signer(
        external_registry, tsa_url=tsa_url, ltv=LtvConfig(trust_roots=(root,), required=True)
    )
    before = TOKEN.calls
    signed = signer.sign(_request(input_pdf, "kz-ext"))
    assert TOKEN.calls == before + 1  # one private-key operation, done by the mechanism
    assert signed.level == "B-LT"
    [report] = verify_pdf(signed.pdf, [root])
    assert report.ok and report.timestamp_valid


def test_national_algorithm_oid_is_carried_and_needs_a_verifier_plug_in(
    external_registry: sessionmaker[Session], input_pdf: bytes, pki: PKIArchitecture
) -> None:
    signed = _signer(external_registry).sign(_request(input_pdf, "kz-bign"))
    from tests.signing import pdfcheck

    [info] = pdfcheck.signed_data(signed.pdf)["signer_infos"]
    assert info["signature_algorithm"]["algorithm"].dotted == BIGN_WITH_HBELT
    # a verifier without a bign plug-in cannot call it valid
    [report] = verify_pdf(signed.pdf, [cert_der(pki, "kz-root")])
    assert not report.ok


@pytest.mark.parametrize(
    ("sid", "message"),
    [("kz-missing", "no key 'nothing'"), ("kz-unknown", "no signature mechanism 'vendor-gost'")],
)
def test_unusable_mechanism_is_a_clear_refusal(
    external_registry: sessionmaker[Session], input_pdf: bytes, sid: str, message: str
) -> None:
    with pytest.raises(KeyUnavailable, match=message):
        _signer(external_registry).sign(_request(input_pdf, sid))
