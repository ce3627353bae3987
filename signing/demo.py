"""Demo PKI and registry so that a fresh checkout signs out of the box (``migdocs demo``).

Builds, under the instance directory (idempotent: existing files are reused):

* ``pki/kz-root.pem``, ``pki/by-root.pem`` — one root CA per country (+ keys, 0600);
* ``pki/tsa.pem`` / ``pki/tsa.key.pem`` — a timestamp authority certificate
  (issued by the KZ root, EKU timeStamping);
* ``keys/<signatory>.p12`` — one PKCS#12 per demo signatory, encrypted with a
  random passphrase stored in ``secrets/<signatory>.pass`` (0600);
* the registry (4 authorities of Art. 2 with demo letterhead requisites, document types,
  8 signatories: the head of each authority, who signs its list of Art. 9.3, and one
  authorised officer).

With ``services_url`` (``migdocs demo`` passes ``<base_url>/demo-pki``) the signatory
and TSA certificates carry a CRL distribution point and an OCSP URL of their CA, served by
the node itself (:mod:`signing.demo_services`, ``service.web.demo_pki``), so documents
can be signed PAdES B-LT.  Without it they carry no revocation pointers.
Never use this PKI for anything but demonstrations.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from .db import create_schema, make_engine, make_session_factory
from .files import atomic_write_bytes
from .registry import (
    ACTIVE,
    DEFAULT_AUTHORITIES,
    STATE_LANGUAGE_NAMES,
    Authorisation,
    KeyReference,
    NewSignatory,
    Registry,
    Requisites,
)

AGREEMENT_DATE = datetime(2019, 9, 25, tzinfo=UTC)


@dataclass(frozen=True)
class DemoSignatory:
    signatory_id: str
    authority: str
    full_name_ru: str
    full_name_latin: str
    position_ru: str
    key_type: str
    """``rsa2048``, ``rsa3072`` or ``p256``."""
    authorisation: Authorisation = field(default_factory=Authorisation)


DEMO_SIGNATORIES: tuple[DemoSignatory, ...] = (
    DemoSignatory(
        "KZ-MVD-001",
        "KZ-MVD",
        "Ахметов Ержан Серикович",
        "Akhmetov Yerzhan",
        "Начальник Департамента миграционной службы",
        "rsa3072",
        Authorisation(
            "authorised", "приказ № 512 от 14.10.2019", "+7 7172 72-15-01", "dms@mvd.demo.kz"
        ),
    ),
    DemoSignatory(
        "KZ-MTSZN-001",
        "KZ-MTSZN",
        "Садыкова Айгуль Маратовна",
        "Sadykova Aigul",
        "Директор Департамента миграции",
        "p256",
        Authorisation(
            "coordinator", "приказ № 233 от 21.10.2019", "+7 7172 74-30-12", "migr@enbek.demo.kz"
        ),
    ),
    DemoSignatory(
        "BY-MVD-001",
        "BY-MVD",
        "Ковалёв Андрей Николаевич",
        "Kovalev Andrei",
        "Начальник Департамента по гражданству и миграции",
        "p256",
        Authorisation(
            "authorised", "приказ № 318 от 11.10.2019", "+375 17 218-51-40", "dgim@mvd.demo.by"
        ),
    ),
    DemoSignatory(
        "BY-GPK-001",
        "BY-GPK",
        "Лукашевич Сергей Иванович",
        "Lukashevich Siarhei",
        "Заместитель Председателя",
        "rsa2048",
        Authorisation(
            "deputy", "приказ № 145 от 08.10.2019", "+375 17 329-18-02", "post@gpk.demo.by"
        ),
    ),
    DemoSignatory(
        "KZ-MVD-HEAD",
        "KZ-MVD",
        "Сапаров Нурлан Болатович",
        "Saparov Nurlan",
        "Министр внутренних дел",
        "p256",
        Authorisation("head", "указ № 101 от 01.10.2019", "+7 7172 72-10-00", "mvd@mvd.demo.kz"),
    ),
    DemoSignatory(
        "KZ-MTSZN-HEAD",
        "KZ-MTSZN",
        "Жумабаева Динара Ерлановна",
        "Zhumabayeva Dinara",
        "Министр труда и социальной защиты населения",
        "p256",
        Authorisation("head", "указ № 102 от 01.10.2019", "+7 7172 74-30-00", "info@enbek.demo.kz"),
    ),
    DemoSignatory(
        "BY-MVD-HEAD",
        "BY-MVD",
        "Василевский Игорь Петрович",
        "Vasileuski Ihar",
        "Министр внутренних дел",
        "p256",
        Authorisation("head", "указ № 45 от 01.10.2019", "+375 17 218-70-00", "mvd@mvd.demo.by"),
    ),
    DemoSignatory(
        "BY-GPK-HEAD",
        "BY-GPK",
        "Мельников Дмитрий Александрович",
        "Melnikau Dzmitry",
        "Председатель Государственного пограничного комитета",
        "p256",
        Authorisation("head", "указ № 46 от 01.10.2019", "+375 17 329-18-00", "gpk@gpk.demo.by"),
    ),
)
"""Fictitious persons and contacts (``demo`` domains): demonstration data only."""

DEMO_REQUISITES: dict[str, Requisites] = {
    "KZ-MVD": Requisites(
        STATE_LANGUAGE_NAMES["KZ-MVD"],
        "010000, Республика Казахстан, г. Астана, проспект Тәуелсіздік, 1",
        "+7 7172 72-10-00",
        "mvd@mvd.demo.kz",
    ),
    "KZ-MTSZN": Requisites(
        STATE_LANGUAGE_NAMES["KZ-MTSZN"],
        "010000, Республика Казахстан, г. Астана, проспект Мәңгілік Ел, 8",
        "+7 7172 74-30-00",
        "info@enbek.demo.kz",
    ),
    "BY-MVD": Requisites(
        STATE_LANGUAGE_NAMES["BY-MVD"],
        "220030, Республика Беларусь, г. Минск, ул. Городской Вал, 4",
        "+375 17 218-70-00",
        "mvd@mvd.demo.by",
    ),
    "BY-GPK": Requisites(
        STATE_LANGUAGE_NAMES["BY-GPK"],
        "220050, Республика Беларусь, г. Минск, ул. Володарского, 24",
        "+375 17 329-18-00",
        "gpk@gpk.demo.by",
    ),
}
"""Letterhead requisites of the demo registry (addresses as published; the telephone
numbers and ``demo`` e-mail addresses are made up)."""


@dataclass(frozen=True)
class DemoResult:
    """What :func:`build_demo` made (``created``) or found (``existing``)."""

    instance: Path
    created: tuple[str, ...]
    existing: tuple[str, ...]
    roots: dict[str, Path]
    tsa_certificate: Path
    tsa_key: Path
    signatories: tuple[str, ...]


def _key(kind: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(65537, int(kind.removeprefix("rsa")))


def _name(cn: str, org: str, country: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _build(
    subject: x509.Name,
    public_key: CertificateIssuerPublicKeyTypes,
    issuer: x509.Name,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    *,
    ca: bool,
    years: int,
    eku_tsa: bool = False,
    services: str | None = None,
    now: datetime | None = None,
    days: int | None = None,
) -> x509.Certificate:
    now = now or datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days if days is not None else 365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    elif eku_tsa:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    else:
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    builder = builder.add_extension(usage, critical=True)
    if services is not None and not ca:
        builder = _with_revocation_pointers(builder, services, _ca_label(issuer))
    return builder.sign(issuer_key, hashes.SHA256())


def _ca_label(issuer: x509.Name) -> str:
    countries = issuer.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    return "by-root" if countries and countries[0].value == "BY" else "kz-root"


def _with_revocation_pointers(
    builder: x509.CertificateBuilder, services: str, ca_label: str
) -> x509.CertificateBuilder:
    """CRL distribution point and OCSP URL of the issuing demo CA (served by the node)."""
    base = services.rstrip("/")
    crl = x509.DistributionPoint(
        [x509.UniformResourceIdentifier(f"{base}/crl/{ca_label}.crl")], None, None, None
    )
    ocsp = x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP,
        x509.UniformResourceIdentifier(f"{base}/ocsp/{ca_label}"),
    )
    return builder.add_extension(x509.CRLDistributionPoints([crl]), critical=False).add_extension(
        x509.AuthorityInformationAccess([ocsp]), critical=False
    )


def issue_tsa(
    instance: Path,
    services_url: str | None,
    *,
    now: datetime | None = None,
    days: int = 3650,
) -> Path:
    """(Re)issue the demo TSA certificate (new key), e.g. before the old one expires."""
    files = _Files(instance)
    kz_cert = x509.load_pem_x509_certificate(files.path("pki/kz-root.pem").read_bytes())
    kz_key = serialization.load_pem_private_key(
        files.path("pki/kz-root.key.pem").read_bytes(), None
    )
    assert isinstance(kz_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    org = kz_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    tsa_key = _key("rsa2048")
    tsa_cert = _build(
        _name("Demo Time Stamping Authority (migdocs)", str(org), "KZ"),
        tsa_key.public_key(),
        kz_cert.subject,
        kz_key,
        ca=False,
        years=10,
        eku_tsa=True,
        services=services_url,
        now=now,
        days=days,
    )
    files.write("pki/tsa.key.pem", _pem_key(tsa_key), 0o600)
    return files.write("pki/tsa.pem", tsa_cert.public_bytes(serialization.Encoding.PEM))


class _Files:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.created: list[str] = []
        self.existing: list[str] = []

    def path(self, rel: str) -> Path:
        return self.base / rel

    def exists(self, *rels: str) -> bool:
        return all(self.path(r).is_file() for r in rels)

    def write(self, rel: str, data: bytes, mode: int = 0o644) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(p, data, mode)
        self.created.append(rel)
        return p

    def note_existing(self, rel: str) -> None:
        self.existing.append(rel)


def _ca(
    files: _Files, label: str, cn: str, org: str, country: str
) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
    cert_rel, key_rel = f"pki/{label}.pem", f"pki/{label}.key.pem"
    if files.exists(cert_rel, key_rel):
        files.note_existing(cert_rel)
        cert = x509.load_pem_x509_certificate(files.path(cert_rel).read_bytes())
        key = serialization.load_pem_private_key(files.path(key_rel).read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        return cert, key
    key = _key("rsa3072")
    name = _name(cn, org, country)
    cert = _build(name, key.public_key(), name, key, ca=True, years=20)
    files.write(key_rel, _pem_key(key), 0o600)
    files.write(cert_rel, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def build_demo(instance: Path, database_url: str, services_url: str | None = None) -> DemoResult:
    """Create (or complete) the demo PKI and registry in ``instance``.

    :param services_url: base URL of the demo CRL/OCSP services (``<base>/crl/<ca>.crl``,
        ``<base>/ocsp/<ca>``) written into new end-entity certificates; ``None`` = none.
    """
    instance.mkdir(parents=True, exist_ok=True)
    files = _Files(instance)
    names = {code: (country, name) for code, country, name, _ in DEFAULT_AUTHORITIES}
    roots = {
        "KZ": _ca(files, "kz-root", "Demo Root CA KZ (migdocs)", names["KZ-MVD"][1], "KZ"),
        "BY": _ca(files, "by-root", "Demo Root CA BY (migdocs)", names["BY-MVD"][1], "BY"),
    }

    if files.exists("pki/tsa.pem", "pki/tsa.key.pem"):
        files.note_existing("pki/tsa.pem")
    else:
        issue_tsa(instance, services_url)
        files.created += ["pki/tsa.key.pem", "pki/tsa.pem"]

    engine = make_engine(database_url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    registered: list[str] = []
    try:
        with sessions() as session:
            reg = Registry(session)
            reg.ensure_default_document_types()
            reg.ensure_default_authorities(AGREEMENT_DATE, DEMO_REQUISITES)
            for demo in DEMO_SIGNATORIES:
                country, org = names[demo.authority]
                root_cert, root_key = roots[country]
                p12_rel = f"keys/{demo.signatory_id}.p12"
                pass_rel = f"secrets/{demo.signatory_id}.pass"
                if files.exists(p12_rel, pass_rel):
                    files.note_existing(p12_rel)
                    passphrase = files.path(pass_rel).read_text().strip().encode()
                    _key_obj, cert, _ = pkcs12.load_key_and_certificates(
                        files.path(p12_rel).read_bytes(), passphrase
                    )
                    assert cert is not None
                else:
                    key = _key(demo.key_type)
                    cert = _build(
                        _name(demo.full_name_ru, org, country),
                        key.public_key(),
                        root_cert.subject,
                        root_key,
                        ca=False,
                        years=3,
                        services=services_url,
                    )
                    passphrase = secrets.token_urlsafe(24).encode()
                    p12 = pkcs12.serialize_key_and_certificates(
                        demo.signatory_id.encode(),
                        key,
                        cert,
                        [root_cert],
                        serialization.BestAvailableEncryption(passphrase),
                    )
                    files.write(pass_rel, passphrase + b"\n", 0o600)
                    files.write(p12_rel, p12, 0o600)
                der = cert.public_bytes(serialization.Encoding.DER)
                versions = reg.signatory_versions(demo.signatory_id)
                all_types = tuple(t.code for t in reg.document_types())
                valid_from = cert.not_valid_before_utc
                if versions and versions[-1].certificate_der == der:
                    last = versions[-1]
                    complete = set(all_types) <= set(last.document_types)
                    if last.status != ACTIVE or (
                        complete and last.authorisation == demo.authorisation
                    ):
                        continue
                    # A registry made before new document types were seeded or before
                    # roles were recorded: a new version from now on (history is never
                    # rewritten).
                    valid_from = datetime.now(UTC)
                reg.add_signatory(
                    NewSignatory(
                        signatory_id=demo.signatory_id,
                        authority_code=demo.authority,
                        full_name_ru=demo.full_name_ru,
                        full_name_latin=demo.full_name_latin,
                        position_ru=demo.position_ru,
                        certificate_der=der,
                        key=KeyReference(
                            "pkcs12",
                            f"{files.path(p12_rel)};passphrase-file={files.path(pass_rel)}",
                        ),
                        document_types=all_types,
                        valid_from=valid_from,
                        valid_to=None,
                        note="demo signatory",
                        authorisation=demo.authorisation,
                    )
                )
                registered.append(demo.signatory_id)
            session.commit()
    finally:
        engine.dispose()
    os.chmod(instance / "secrets", 0o700)
    return DemoResult(
        instance=instance,
        created=tuple(files.created),
        existing=tuple(files.existing),
        roots={"KZ": files.path("pki/kz-root.pem"), "BY": files.path("pki/by-root.pem")},
        tsa_certificate=files.path("pki/tsa.pem"),
        tsa_key=files.path("pki/tsa.key.pem"),
        signatories=tuple(registered),
    )
