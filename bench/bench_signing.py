"""Signing benchmark: PAdES B-B per key type next to the raw private-key operation, B-T;
with ``--long-term``: B-LT and B-LTA of the service's signer against the demo PKI's own
TSA/OCSP/CRL served on 127.0.0.1 (issue 14 target: B-LT <= 150 ms per document).

Run:  .venv/bin/python bench/bench_signing.py [--rounds N] [--long-term]

Uses the test PKI (tests/signing/pki, certomancer) and a local TSA served on
127.0.0.1 by certomancer's Animator.  Prints median milliseconds.  Targets
(issue 3): RSA-3072 B-B ≤ 15 ms, P-256 B-B ≤ 12 ms (stock pyHanko: ~245 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asn1crypto import x509  # noqa: E402
from certomancer.integrations.animator import Animator, AnimatorArchStore  # noqa: E402
from certomancer.registry import CertomancerConfig  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log of the local TSA

from signing.appearance import SignatureBlockInfo  # noqa: E402
from signing.keys import LoadedKeySigner  # noqa: E402
from signing.pades import PadesOptions, async_sign_pdf  # noqa: E402
from signing.timestamps import http_timestamper  # noqa: E402

PKI = ROOT / "tests" / "signing" / "pki"
KEYS = {"RSA-2048": "signer-rsa2048", "RSA-3072": "signer-rsa3072", "P-256": "signer-p256"}


def median_ms(fn: Callable[[], Any], rounds: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def input_pdf() -> bytes:
    import weasyprint

    from signing.layout import (
        SIGNATURE_AREA_HEIGHT_MM,
        SIGNATURE_AREA_ID,
        SIGNATURE_AREA_WIDTH_MM,
    )

    html = (
        '<html lang="ru"><head><meta charset="utf-8"><title>Запрос</title></head><body>'
        "<h1>Запрос № KZ-MVD/2026/000001</h1><p>О предоставлении сведений.</p>"
        f'<div id="{SIGNATURE_AREA_ID}" style="width:{SIGNATURE_AREA_WIDTH_MM}mm;'
        f'height:{SIGNATURE_AREA_HEIGHT_MM}mm"></div></body></html>'
    )
    return bytes(weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-3u"))


def long_term(rounds: int) -> None:
    """B-T, B-LT and B-LTA with :class:`signing.api.DocumentSigner` (registry checks, key
    cache, visible block) against the node's demo PKI services on 127.0.0.1."""
    import tempfile

    from flask import Flask

    from service.web import demo_pki
    from signing.api import DocumentSigner, SigningConfig, SignRequest
    from signing.db import make_engine, make_session_factory
    from signing.demo import build_demo
    from signing.demo_services import DemoPkiServices
    from signing.pades import LtvConfig
    from signing.revinfo import RevocationCache

    tmp = Path(tempfile.mkdtemp(prefix="bench-lt-"))
    app = Flask(__name__)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}/demo-pki"
    url = f"sqlite:///{tmp / 'registry.sqlite3'}"
    result = build_demo(tmp, url, base)
    app.extensions["migdocs.demo_pki"] = DemoPkiServices(tmp / "pki")
    app.register_blueprint(demo_pki.bp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    roots = tuple(
        x509.Certificate.load(__import__("asn1crypto.pem").pem.unarmor(p.read_bytes())[2]).dump()
        for p in result.roots.values()
    )
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    pdf = input_pdf()
    # as the service: fetched OCSP answers reused for 60 s (revocation_cache_seconds)
    ltv = LtvConfig(trust_roots=roots, required=True, cache=RevocationCache(60))
    configs: dict[str, SigningConfig] = {
        "B-T": SigningConfig(tsa_url=f"{base}/tsa"),
        "B-LT": SigningConfig(tsa_url=f"{base}/tsa", ltv=ltv),
        "B-LTA": SigningConfig(tsa_url=f"{base}/tsa", ltv=ltv, archive_timestamp=True),
    }
    print(f"DocumentSigner, block drawn by the renderer (as the service), demo PKI on {base}")
    print(f"median of {rounds} rounds, ms")
    try:
        for sid in ("KZ-MVD-001", "KZ-MTSZN-001"):
            for level, config in configs.items():
                signer = DocumentSigner(sessions, config=config)
                request = SignRequest(
                    pdf=pdf, signatory_id=sid, document_type="request", block_prerendered=True
                )
                assert signer.sign(request).level == level
                ms = median_ms(lambda s=signer, r=request: s.sign(r), rounds)
                print(f"  {sid:<13} {level:<6} {ms:8.1f}")
    finally:
        engine.dispose()
        server.shutdown()
    print("target: B-LT <= 150 ms per document (local TSA/OCSP)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--long-term", action="store_true", help="B-LT/B-LTA only")
    args = parser.parse_args()
    if args.long_term:
        long_term(args.rounds)
        return

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    arch = CertomancerConfig.from_file(
        str(PKI / "certomancer.yml"), external_url_prefix=base
    ).get_pki_arch("migdocs")
    holder["app"] = Animator(AnimatorArchStore({"migdocs": arch}), with_web_ui=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    pdf = input_pdf()
    root = x509.Certificate.load(arch.get_cert("kz-root").dump())
    tsa = http_timestamper(f"{base}/migdocs/tsa/tsa")
    loop = asyncio.new_event_loop()
    rows: list[tuple[str, float, float, float, float, float]] = []
    try:
        for label, stem in KEYS.items():
            key = serialization.load_pem_private_key(
                (PKI / "keys" / f"{stem}.key.pem").read_bytes(), None
            )
            cert = x509.Certificate.load(arch.get_cert(stem).dump())
            signer = LoadedKeySigner(cert, key, [root])
            digest = b"\x00" * 32
            if isinstance(key, rsa.RSAPrivateKey):

                def raw(k: Any = key, d: bytes = digest) -> None:
                    k.sign(d, padding.PKCS1v15(), hashes.SHA256())
            else:
                assert isinstance(key, ec.EllipticCurvePrivateKey)

                def raw(k: Any = key, d: bytes = digest) -> None:
                    k.sign(d, ec.ECDSA(hashes.SHA256()))

            validity = cert["tbs_certificate"]["validity"]
            block = SignatureBlockInfo(
                position="Начальник Департамента миграционной службы",
                full_name="Петров Пётр Петрович",
                full_name_latin="Petrov Piotr",
                signing_time=validity["not_before"].native,
                registration_number="KZ-MVD/2026/000001",
                certificate_serial_hex=format(cert.serial_number, "X"),
                certificate_owner=cert.subject.human_friendly,
                certificate_valid_from=validity["not_before"].native,
                certificate_valid_to=validity["not_after"].native,
                verification_url="http://127.0.0.1:8000/verify?document=KZ-MVD%2F2026%2F000001",
            )

            def run(visible: bool, ts: Any = None, s: Any = signer, b: Any = block) -> None:
                loop.run_until_complete(
                    async_sign_pdf(
                        pdf,
                        s,
                        signer_name="x",
                        block=b,
                        timestamper=ts,
                        options=PadesOptions(visible=visible),
                    )
                )

            rows.append(
                (
                    label,
                    median_ms(raw, args.rounds),
                    median_ms(lambda: run(False), args.rounds),
                    median_ms(lambda: run(True), args.rounds),
                    median_ms(lambda: run(False, tsa), args.rounds),
                    median_ms(lambda: run(True, tsa), args.rounds),
                )
            )
    finally:
        loop.close()
        server.shutdown()

    print(f"PAdES signing, median of {args.rounds} rounds, ms (input PDF/A-3u {len(pdf)} bytes)")
    header = ("key", "raw sign", "B-B invisible", "B-B visible", "B-T invisible", "B-T visible")
    print("{:<10} {:>9} {:>14} {:>12} {:>14} {:>12}".format(*header))
    for label, *vals in rows:
        print("{:<10} {:>9.2f} {:>14.2f} {:>12.2f} {:>14.2f} {:>12.2f}".format(label, *vals))
    print(
        "targets: RSA-3072 B-B <= 15 ms, P-256 B-B <= 12 ms; B-T includes the local TSA "
        "HTTP round trip"
    )


if __name__ == "__main__":
    main()
