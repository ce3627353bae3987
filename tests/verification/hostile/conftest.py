"""The hostile corpus: forged and altered PDFs built at test time from genuine service
output (Mladenov et al. 2019: USF, ISA, SWA; Mainka et al. NDSS 2021: shadow attacks),
plus resource exhaustion, and helpers to ask ``pdfsig`` (poppler) for a second opinion."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from service.pipeline.stages import render_document
from signing.keys import LoadedKeySigner
from signing.pades import PadesOptions, sign_pdf
from tests.signing.conftest import pki, pki_server, tsa_url  # noqa: F401  (fixtures)
from tests.verification.conftest import REQUEST, Env

MAX_SECONDS = 10.0


def verify_api(environment: Env, pdf: bytes) -> dict[str, Any]:
    """POST the file to the public API; assert a 200 within :data:`MAX_SECONDS`."""
    start = time.perf_counter()
    response = environment.client.post(
        "/api/v1/verifications", data=pdf, content_type="application/pdf"
    )
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.data[:500]
    assert elapsed < MAX_SECONDS, f"verification took {elapsed:.1f} s"
    body: dict[str, Any] = response.json
    return body


def check(checks: list[dict[str, Any]], code: str) -> dict[str, Any]:
    [found] = [c for c in checks if c["code"] == code]
    return found


# --------------------------------------------------------------------------- pdfsig


def pdfsig(pdf: bytes, tmp_path: Path) -> str:
    """``pdfsig`` output for the file (poppler), bounded in time."""
    exe = shutil.which("pdfsig")
    if exe is None:  # pragma: no cover - scripts/install.sh installs poppler-utils
        pytest.skip("pdfsig (poppler-utils) not installed")
    path = tmp_path / f"case-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    try:
        done = subprocess.run(
            [exe, str(path)], capture_output=True, text=True, timeout=MAX_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return "pdfsig: timeout"
    return done.stdout + done.stderr


def pdfsig_clean(pdf: bytes, tmp_path: Path) -> bool:
    """pdfsig says every signature is valid and covers the total document."""
    out = pdfsig(pdf, tmp_path)
    blocks = re.split(r"\nSignature #\d+:", out)[1:]
    return bool(blocks) and all(
        "Total document signed" in b and "Signature is Valid." in b for b in blocks
    )


# --------------------------------------------------------------------------- signing


def demo_signer(instance: Path, signatory_id: str = "KZ-MVD-001") -> LoadedKeySigner:
    """The registered demo signatory's key, as the service's instance holds it."""
    passphrase = (instance / "secrets" / f"{signatory_id}.pass").read_text().strip().encode()
    key, cert, extra = pkcs12.load_key_and_certificates(
        (instance / "keys" / f"{signatory_id}.p12").read_bytes(), passphrase
    )
    assert key is not None and cert is not None

    def der(c: Any) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    return LoadedKeySigner(der(cert), key, [der(c) for c in extra or ()])  # type: ignore[arg-type]


def sign(
    pdf: bytes, signer: LoadedKeySigner, *, signing_time: datetime | None = None, **kw: Any
) -> bytes:
    return sign_pdf(
        pdf,
        signer,
        signer_name="Hostile test",
        options=PadesOptions(visible=False),
        signing_time=signing_time,
        **kw,
    ).pdf


@pytest.fixture(scope="session")
def rendered() -> bytes:
    """The sample request rendered by the service (PDF/A-3u, source.xml attached)."""
    return render_document(REQUEST, "KZ-MVD-2026-999001").pdf


# --------------------------------------------------------------------------- updates


class RawUpdateWriter(IncrementalPdfFileWriter):
    """An incremental writer that writes exactly what it is told (pyHanko's own writer
    refreshes the XMP and ``/Info`` of every revision; an attacker's does not)."""

    def _update_meta(self) -> None:
        return None


def update(pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    """An incremental update of ``pdf`` made by ``change``."""
    writer = RawUpdateWriter(io.BytesIO(pdf), strict=False)
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_of(writer: IncrementalPdfFileWriter, index: int = 0) -> generic.DictionaryObject:
    """Page ``index`` of the latest revision, ready to be modified."""
    page = writer.find_page_for_modification(index)[0].get_object()
    assert isinstance(page, generic.DictionaryObject)
    return page


def add_annotation(
    writer: IncrementalPdfFileWriter,
    page: generic.DictionaryObject,
    annotation: generic.DictionaryObject,
) -> generic.IndirectObject:
    """Add ``annotation`` to ``page``'s ``/Annots`` (an array in place or by reference)."""
    ref = writer.add_object(annotation)
    annots = page.get("/Annots")
    if isinstance(annots, generic.IndirectObject):
        array = annots.get_object()
        array.append(ref)
        writer.update_container(array)
    else:
        page[generic.NameObject("/Annots")] = generic.ArrayObject([*(annots or []), ref])
        writer.update_container(page)
    return ref


def text_stream(text: str, y: int = 760) -> generic.StreamObject:
    """An opaque white box with ``text`` over it (paints over what is beneath)."""
    ops = f"q 1 1 1 rg 40 {y - 10} 520 40 re f Q BT /Helv 20 Tf 0 0 0 rg 50 {y} Td ({text}) Tj ET"
    return generic.StreamObject(stream_data=ops.encode())


def helv() -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {
                    generic.NameObject("/Helv"): generic.DictionaryObject(
                        {
                            generic.NameObject("/Type"): generic.NameObject("/Font"),
                            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
                            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
                        }
                    )
                }
            )
        }
    )


def form_xobject(text: str) -> generic.StreamObject:
    xobj = text_stream(text, 10)
    xobj[generic.NameObject("/Type")] = generic.NameObject("/XObject")
    xobj[generic.NameObject("/Subtype")] = generic.NameObject("/Form")
    xobj[generic.NameObject("/BBox")] = generic.ArrayObject(
        [generic.NumberObject(v) for v in (0, 0, 560, 50)]
    )
    xobj[generic.NameObject("/Resources")] = helv()
    return xobj


def zip_bomb(size: int = 256 * 1024 * 1024) -> bytes:
    """FlateDecode data of ``size`` zero bytes (~256 KiB compressed per 256 MiB)."""
    compressor = zlib.compressobj(9)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + compressor.flush()
