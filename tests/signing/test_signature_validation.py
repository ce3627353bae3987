"""Signed PDFs validate with independent verifiers; tampering is detected (issue 3, done-when)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, tsp
from certomancer.registry import PKIArchitecture

from signing.api import SigningConfig, SignRequest
from signing.pades import LtvConfig
from signing.verify_basic import verify_pdf

from . import pdfcheck
from .conftest import cert_der

needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler pdfsig missing")


def _sign(
    make_signer: Callable[..., Any], pdf: bytes, sid: str = "kz-mvd-rsa3072", **config: Any
) -> Any:
    signer = make_signer(config=SigningConfig(**config)) if config else make_signer()
    return signer.sign(
        SignRequest(
            pdf=pdf,
            signatory_id=sid,
            document_type="request",
            registration_number="KZ-MVD/2026/000042",
        )
    )


@pytest.fixture()
def signed_file(make_signer: Callable[..., Any], input_pdf: bytes, tmp_path: Path) -> Path:
    out = tmp_path / "signed.pdf"
    out.write_bytes(_sign(make_signer, input_pdf).pdf)
    return out


@needs_pdfsig
def test_pdfsig_p256_valid(
    make_signer: Callable[..., Any], input_pdf: bytes, tmp_path: Path
) -> None:
    out_pdf = tmp_path / "p256.pdf"
    out_pdf.write_bytes(_sign(make_signer, input_pdf, "kz-mtszn-p256").pdf)
    out = subprocess.run(["pdfsig", str(out_pdf)], capture_output=True, text=True, check=True)
    assert "Signature is Valid" in out.stdout


def test_pyhanko_cli_validate_trusted(signed_file: Path, kz_root_pem: Path) -> None:
    exe = shutil.which("pyhanko") or str(Path(__file__).parents[2] / ".venv/bin/pyhanko")
    if not Path(exe).exists():
        pytest.skip("pyhanko-cli not installed")
    out = subprocess.run(
        [exe, "sign", "validate", "--trust-replace", "--trust", str(kz_root_pem), str(signed_file)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # "<field>:<fingerprint>:INTACT:TRUSTED,UNTOUCHED"
    assert ":INTACT:TRUSTED" in out.stdout, out.stdout + out.stderr


def test_python_validation_intact_valid_trusted(signed_file: Path, pki: PKIArchitecture) -> None:
    [report] = verify_pdf(signed_file.read_bytes(), [cert_der(pki, "kz-root")])
    assert report.intact and report.valid and report.trusted
    assert report.covers_whole_file
    assert report.ok


def test_untrusted_with_unrelated_root(signed_file: Path, pki: PKIArchitecture) -> None:
    [report] = verify_pdf(signed_file.read_bytes(), [cert_der(pki, "other-root")])
    assert report.intact and report.valid
    assert not report.trusted


def test_one_flipped_byte_is_detected(signed_file: Path, pki: PKIArchitecture) -> None:
    pdf = bytearray(signed_file.read_bytes())
    a, b, _c, _d = pdfcheck.byte_range(bytes(pdf))
    # a byte inside the first page's content stream, well within the signed range
    pos = pdf.index(b"stream", 2000) + 40
    assert a <= pos < b
    pdf[pos] ^= 0x01
    [report] = verify_pdf(bytes(pdf), [cert_der(pki, "kz-root")])
    assert not report.intact
    assert not report.ok


def test_b_t_carries_token_from_local_tsa(
    make_signer: Callable[..., Any], input_pdf: bytes, tsa_url: str, pki: PKIArchitecture
) -> None:
    result = _sign(make_signer, input_pdf, tsa_url=tsa_url)
    assert result.level == "B-T"
    sd = pdfcheck.signed_data(result.pdf)
    unsigned = sd["signer_infos"][0]["unsigned_attrs"]
    tokens = [a for a in unsigned if a["type"].native == "signature_time_stamp_token"]
    assert len(tokens) == 1
    token: cms.ContentInfo = tokens[0]["values"][0]
    tst_sd = token["content"]
    tst_info = tsp.TSTInfo.load(tst_sd["encap_content_info"]["content"].parsed.dump())
    assert tst_info["gen_time"].native is not None
    tsa_cert = pki.get_cert("tsa")
    signer_sid = tst_sd["signer_infos"][0]["sid"].chosen
    assert signer_sid["serial_number"].native == tsa_cert.serial_number
    [report] = verify_pdf(result.pdf, [cert_der(pki, "kz-root")])
    assert report.ok
    assert report.timestamp_valid is True
    assert report.timestamp_time is not None


def test_b_lt_embeds_revocation_info_and_keeps_pdfa(
    make_signer: Callable[..., Any], input_pdf: bytes, tsa_url: str, pki: PKIArchitecture
) -> None:
    ltv = LtvConfig(trust_roots=(cert_der(pki, "kz-root"),), required=True)
    result = _sign(make_signer, input_pdf, tsa_url=tsa_url, ltv=ltv)
    assert result.level == "B-LT"
    root = pdfcheck.reader(result.pdf).root
    dss = root["/DSS"]
    assert "/OCSPs" in dss or "/CRLs" in dss
    assert len(dss["/Certs"]) >= 2
    # the DSS revision is ours too: metadata still agrees, still PDF 1.7, pdfaid kept
    assert pdfcheck.xmp_producer(result.pdf) == pdfcheck.info_producer(result.pdf)
    assert pdfcheck.xmp_pdfaid(result.pdf) == ("3", "U")
    assert "/Version" not in root or str(root["/Version"]) == "/1.7"
    [report] = verify_pdf(result.pdf, [cert_der(pki, "kz-root")])
    assert report.intact and report.valid and report.trusted
    assert report.modification_level == "LTA_UPDATES"
