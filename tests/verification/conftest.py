"""Fixtures for verification: the service fixtures (demo PKI, registry, app) plus signed,
tampered and foreign documents made from real service output."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from certomancer.registry import CertomancerConfig
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject

from service.paths import SAMPLES_DIR
from service.pipeline.stages import render_document
from signing.keys import LoadedKeySigner
from signing.pades import PadesOptions, sign_pdf
from tests.service.conftest import (  # noqa: F401  (fixtures)
    Env,
    database_url,
    demo_template,
    env,
    sqlite_env,
)
from tests.signing.conftest import PKI_DIR, load_key

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()


def with_new_id(raw: bytes) -> bytes:
    """The same document under a fresh upstream documentId."""
    start = raw.index(b"<documentId>") + len(b"<documentId>")
    end = raw.index(b"</documentId>")
    return raw[:start] + str(uuid.uuid4()).encode() + raw[end:]


@dataclass(frozen=True)
class Signed:
    pdf: bytes
    registration_number: str
    signed_at: datetime


def post_and_fetch(environment: Env, raw: bytes = REQUEST) -> Signed:
    response = environment.post_xml(with_new_id(raw))
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    pdf = environment.client.get(
        body["links"]["pdf"], headers={"X-API-Key": environment.keys["KZ-MVD"]}
    ).data
    return Signed(pdf, body["registration_number"], datetime.fromisoformat(body["signed_at"]))


@pytest.fixture
def signed(sqlite_env: Env) -> Signed:  # noqa: F811
    return post_and_fetch(sqlite_env)


def flip_byte_in_signed_range(pdf: bytes) -> bytes:
    """Flip one bit of a font stream's data inside the first signed byte range."""
    match = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)", pdf)
    assert match is not None
    first_range_end = int(match.group(1))
    for m in re.finditer(rb"stream\r?\n", pdf):
        start = m.end()
        end = pdf.find(b"endstream", start)
        header = pdf[max(0, m.start() - 300) : m.start()]
        if end - start > 2000 and end < first_range_end and b"/ObjStm" not in header:
            if b"/XRef" in header or b"/Metadata" in header:
                continue
            offset = start + 1000
            return pdf[:offset] + bytes([pdf[offset] ^ 0x01]) + pdf[offset + 1 :]
    raise AssertionError("no suitable stream in the signed range")


def append_page(pdf: bytes) -> bytes:
    """An incremental update after signing that adds a blank-ish page at the end."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    content = writer.add_object(generic.StreamObject(stream_data=b"BT ET"))
    box = generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)])
    writer.insert_page(PageObject(contents=content, media_box=box))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def unsigned_pdf() -> bytes:
    """A real rendering of the sample request, not signed."""
    return render_document(REQUEST, "KZ-MVD-2026-999001").pdf


@pytest.fixture(scope="session")
def foreign_signed_pdf(unsigned_pdf: bytes) -> bytes:
    """The rendered document signed by a certificate from a CA neither country trusts."""
    config = CertomancerConfig.from_file(
        str(PKI_DIR / "certomancer.yml"), external_url_prefix="http://127.0.0.1:9"
    )
    arch = config.get_pki_arch("migdocs")
    cert = x509.Certificate.load(arch.get_cert("signer-other").dump())
    root = x509.Certificate.load(arch.get_cert("other-root").dump())
    signer = LoadedKeySigner(cert, load_key("signer-other"), [root])
    return sign_pdf(
        unsigned_pdf, signer, signer_name="Unrelated", options=PadesOptions(visible=False)
    ).pdf


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def demo_roots(instance: Path) -> list[Path]:
    return sorted((instance / "pki").glob("*-root.pem"))
