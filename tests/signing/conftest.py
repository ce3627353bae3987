"""Fixtures for the signing tests: certomancer PKI with live OCSP/CRL/TSA on 127.0.0.1,
a registry in SQLite, in-memory keys and a small PDF/A-3u input rendered by WeasyPrint."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import CertomancerConfig, PKIArchitecture
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from signing.db import create_schema, make_engine, make_session_factory
from signing.keys import KeyStore, MemoryBackend
from signing.layout import SIGNATURE_AREA_HEIGHT_MM, SIGNATURE_AREA_ID, SIGNATURE_AREA_WIDTH_MM
from signing.registry import KeyReference, NewSignatory, Registry

PKI_DIR = Path(__file__).parent / "pki"
ARCH = "migdocs"

# signatory id -> (cert label, key file stem, authority, document types, window)
SIGNATORIES: dict[str, tuple[str, str, str, tuple[str, ...], tuple[datetime, datetime | None]]] = {
    "kz-mvd-rsa2048": (
        "signer-rsa2048",
        "signer-rsa2048",
        "KZ-MVD",
        ("request", "response", "refusal-notice"),
        (datetime(2024, 1, 1, tzinfo=UTC), None),
    ),
    "kz-mvd-rsa3072": (
        "signer-rsa3072",
        "signer-rsa3072",
        "KZ-MVD",
        ("request", "response"),
        (datetime(2024, 1, 1, tzinfo=UTC), None),
    ),
    "kz-mtszn-p256": (
        "signer-p256",
        "signer-p256",
        "KZ-MTSZN",
        ("request", "response", "refusal-notice"),
        (datetime(2024, 1, 1, tzinfo=UTC), None),
    ),
    "by-mvd-p256": (
        "signer-by",
        "signer-by",
        "BY-MVD",
        ("request", "response", "refusal-notice"),
        (datetime(2024, 1, 1, tzinfo=UTC), None),
    ),
    "kz-mvd-expired": (
        "signer-expired",
        "signer-rsa2048",
        "KZ-MVD",
        ("request",),
        (datetime(2020, 1, 1, tzinfo=UTC), None),
    ),
    "kz-mvd-notyet": (
        "signer-notyet",
        "signer-rsa2048",
        "KZ-MVD",
        ("request",),
        (datetime(2024, 1, 1, tzinfo=UTC), None),
    ),
    "kz-mvd-noku": (
        "signer-noku",
        "signer-rsa2048",
        "KZ-MVD",
        ("request",),
        (datetime(2024, 1, 1, tzinfo=UTC), None),
    ),
    "kz-mvd-past": (
        "signer-rsa2048",
        "signer-rsa2048",
        "KZ-MVD",
        ("request",),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
    ),
}


class _Dispatcher:
    """WSGI app whose target is set after the server knows its port."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def pki_server() -> Iterator[tuple[PKIArchitecture, str]]:
    """The test PKI, with OCSP, CRL and TSA served on 127.0.0.1:<free port>."""
    dispatcher = _Dispatcher()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, dispatcher, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    cfg = CertomancerConfig.from_file(
        str(PKI_DIR / "certomancer.yml"), external_url_prefix=base_url
    )
    arch = cfg.get_pki_arch(ARCH)
    dispatcher.app = Animator(AnimatorArchStore({ARCH: arch}), with_web_ui=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield arch, base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def pki(pki_server: tuple[PKIArchitecture, str]) -> PKIArchitecture:
    return pki_server[0]


@pytest.fixture(scope="session")
def tsa_url(pki_server: tuple[PKIArchitecture, str]) -> str:
    return f"{pki_server[1]}/{ARCH}/tsa/tsa"


def cert_der(pki: PKIArchitecture, label: str) -> bytes:
    return bytes(pki.get_cert(label).dump())


def load_key(stem: str) -> Any:
    return serialization.load_pem_private_key(
        (PKI_DIR / "keys" / f"{stem}.key.pem").read_bytes(), password=None
    )


@pytest.fixture(scope="session")
def kz_root_pem(pki: PKIArchitecture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from asn1crypto import pem

    path = tmp_path_factory.mktemp("roots") / "kz-root.pem"
    path.write_bytes(pem.armor("CERTIFICATE", cert_der(pki, "kz-root")))
    return path


@pytest.fixture()
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture()
def registry(session_factory: sessionmaker[Session], pki: PKIArchitecture) -> sessionmaker[Session]:
    """A registry with the 4 authorities and the test signatories (memory keys)."""
    with session_factory() as session:
        reg = Registry(session)
        reg.ensure_default_document_types()
        reg.ensure_default_authorities(datetime(2019, 9, 25, tzinfo=UTC))
        for sid, (label, key_stem, authority, types, (vf, vt)) in SIGNATORIES.items():
            reg.add_signatory(
                NewSignatory(
                    signatory_id=sid,
                    authority_code=authority,
                    full_name_ru=str(pki.get_cert(label).subject.native["common_name"]),
                    full_name_latin="Test Signatory",
                    position_ru="Начальник Департамента миграционной службы",
                    certificate_der=cert_der(pki, label),
                    key=KeyReference("memory", key_stem),
                    document_types=types,
                    valid_from=vf,
                    valid_to=vt,
                )
            )
        session.commit()
    return session_factory


@pytest.fixture(scope="session")
def memory_backend(pki: PKIArchitecture) -> MemoryBackend:
    backend = MemoryBackend()
    chains = {"signer-by": ["by-root"]}
    for stem in ("signer-rsa2048", "signer-rsa3072", "signer-p256", "signer-by", "signer-other"):
        roots = chains.get(stem, ["kz-root"])
        backend.add(stem, load_key(stem), [x509.Certificate.load(cert_der(pki, r)) for r in roots])
    return backend


@pytest.fixture()
def key_store(memory_backend: MemoryBackend) -> KeyStore:
    return KeyStore([memory_backend])


def render_pdfa(with_area: bool = True, pages: int = 1, finisher: Any = None) -> bytes:
    """A small PDF/A-3u like the render pipeline produces (reserved signature box);
    ``finisher``: WeasyPrint's hook before the file is written (a signature slot)."""
    import weasyprint

    area = (
        f'<div id="{SIGNATURE_AREA_ID}" style="width:{SIGNATURE_AREA_WIDTH_MM}mm;'
        f'height:{SIGNATURE_AREA_HEIGHT_MM}mm"></div>'
        if with_area
        else ""
    )
    filler = "".join(
        f'<p style="page-break-after: always">Страница {i + 1}</p>' for i in range(pages - 1)
    )
    html = (
        '<html lang="ru"><head><meta charset="utf-8"><title>Запрос</title>'
        "<style>@page{size:A4;margin:20mm} body{font-family:'PT Serif'}</style></head>"
        f"<body>{filler}<h1>Запрос № KZ-MVD/2026/000001</h1>"
        "<p>О предоставлении сведений о гражданине.</p>"
        f"{area}</body></html>"
    )
    return bytes(weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-3u", finisher=finisher))


@pytest.fixture(scope="session")
def input_pdf() -> bytes:
    return render_pdfa()


@pytest.fixture(scope="session")
def input_pdf_no_area() -> bytes:
    return render_pdfa(with_area=False, pages=2)


@pytest.fixture()
def make_signer(registry: sessionmaker[Session], key_store: KeyStore) -> Callable[..., Any]:
    from signing.api import DocumentSigner

    def _make(**kwargs: Any) -> DocumentSigner:
        return DocumentSigner(registry, keys=key_store, **kwargs)

    return _make
