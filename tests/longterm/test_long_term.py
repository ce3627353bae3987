"""Issue 14: signatures that still prove something in ten years.

A live node (real app, threaded WSGI server on 127.0.0.1) serves the demo PKI's CRL, OCSP
and TSA itself; documents are posted over HTTP and verified by the node's verifier with
an injected clock, by ``migdocs verify``, by pyHanko's CLI and by poppler's ``pdfsig``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl as asn1_crl
from click.testing import CliRunner
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from service.cli.main import main
from signing.demo_services import DemoPkiServices, revoke
from signing.verification import CHECK_TITLES, Indication
from tests.longterm.conftest import Node
from tests.signing import pdfcheck


def check(sig: Any, code: str) -> Any:
    [found] = [c for c in sig.checks if c.code == code]
    return found


def signer_serial(node: Node, pdf: bytes) -> int:
    [sig] = node.verify(pdf).signatures
    return int(sig.signer.serial_hex, 16)


def with_current_crl(node: Node, pdf: bytes, at: datetime | None = None) -> bytes:
    """What a verifier who fetched the CA's CRL (at ``at``) would add: a DSS update."""
    services = DemoPkiServices(node.instance / "pki", clock=(lambda: at) if at else None)
    out = io.BytesIO(pdf)
    crl = asn1_crl.CertificateList.load(services.crl("kz-root"))
    DocumentSecurityStore.add_dss(out, sig_contents=None, crls=[crl])
    return out.getvalue()


def test_posted_document_is_b_lt_with_revocation_data_in_the_dss(
    node: Node, tmp_path: Path
) -> None:
    node.set_level("B-LT")
    pdf = node.pdf(node.post())
    dss = PdfFileReader(io.BytesIO(pdf)).root["/DSS"]
    assert len(dss["/OCSPs"]) >= 2  # signer and TSA certificates
    assert len(dss["/Certs"]) >= 2
    report = node.verify(pdf)
    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED
    assert sig.level == "B-LT"
    assert check(sig, "revocation").status.value == "PASSED"
    assert [link.kind for link in sig.proofs_of_existence] == ["signature"]
    assert pdfcheck.xmp_pdfaid(pdf) == ("3", "U")
    assert pdfcheck.xmp_producer(pdf) == pdfcheck.info_producer(pdf)

    path = tmp_path / "b-lt.pdf"
    path.write_bytes(pdf)
    result = CliRunner().invoke(main, ["verify", str(path)], env=node.env())
    assert result.exit_code == 0, result.output
    assert f"✓ {CHECK_TITLES['revocation']}:" in result.output
    assert "PAdES B-LT" in result.output


def test_pyhanko_cli_validates_with_only_the_trust_roots(node: Node, tmp_path: Path) -> None:
    exe = shutil.which("pyhanko") or str(Path(sys.executable).parent / "pyhanko")
    assert Path(exe).exists(), "pyhanko-cli (dev extra) is not installed"
    node.set_level("B-LT")
    path = tmp_path / "b-lt.pdf"
    path.write_bytes(node.pdf(node.post()))
    roots = ", ".join(str(p) for p in sorted((node.instance / "pki").glob("*-root.pem")))
    config = tmp_path / "pyhanko.yml"
    config.write_text(
        f"validation-contexts:\n  migdocs:\n    trust: [{roots}]\n    trust-replace: true\n"
    )
    done = subprocess.run(
        [
            exe,
            "--config",
            str(config),
            "sign",
            "validate",
            "--validation-context",
            "migdocs",
            "--force-revinfo",  # every certificate must have revocation data that says good
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ":INTACT:TRUSTED," in done.stdout
    assert "TIMESTAMP_TOKEN<INTACT:TRUSTED>" in done.stdout
    assert "EXTENDED_WITH_LTA_UPDATES" in done.stdout


def test_b_lta_document_timestamp_shows_in_pdfsig(node: Node, tmp_path: Path) -> None:
    node.set_level("B-LTA")
    pdf = node.pdf(node.post())
    report = node.verify(pdf)
    [sig] = report.signatures  # the document timestamp is a proof, not a signature
    assert report.indication is Indication.TOTAL_PASSED
    assert sig.level == "B-LTA"
    assert [link.kind for link in sig.proofs_of_existence] == ["signature", "document"]
    assert all(link.status.value == "PASSED" for link in sig.proofs_of_existence)
    assert pdfcheck.xmp_pdfaid(pdf) == ("3", "U")
    page = node.app.test_client().post(
        "/verify", data={"file": (io.BytesIO(pdf), "doc.pdf")}, content_type="multipart/form-data"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Доказательства существования" in html and "Архивная метка времени" in html
    exe = shutil.which("pdfsig")
    if exe is None:  # pragma: no cover - scripts/install.sh installs poppler-utils
        pytest.skip("pdfsig (poppler-utils) not installed")
    path = tmp_path / "b-lta.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=60).stdout
    first, second = out.split("Signature #2:")
    assert "Signature is Valid." in first
    assert "Demo Time Stamping Authority (migdocs)" in second
    assert "Total document signed" in second


def test_after_expiry_and_revocation_long_term_documents_still_pass(node: Node) -> None:
    docs = {}
    for level in ("B-B", "B-LT", "B-LTA"):
        node.set_level(level)
        docs[level] = node.pdf(node.post())
    revoked_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    serial = signer_serial(node, docs["B-LT"])
    revoke(node.instance / "pki", "kz-root", serial, revoked_at)
    try:
        fetched = revoked_at + timedelta(seconds=5)  # the CRL lists it from revoked_at on
        [sig] = node.verify(docs["B-LT"]).signatures
        expiry = sig.signer.not_after
        later = expiry + timedelta(days=30)
        for level in ("B-LT", "B-LTA"):
            # a verifier who fetched the CRL today sees the revocation, after the timestamp
            pdf = with_current_crl(node, docs[level], fetched)
            report = node.verify(pdf, now=later)
            [sig] = report.signatures
            assert (report.indication, report.sub_indication) == (Indication.TOTAL_PASSED, None)
            assert sig.level == level
            assert check(sig, "revocation").status.value == "PASSED"
            assert sig.signer.not_after < later  # expired, and revoked: POE carries it
        report = node.verify(with_current_crl(node, docs["B-B"], fetched), now=later)
        assert report.indication is Indication.INDETERMINATE
        assert report.signatures[0].level == "B-B"
        # revoked now, no proof of existence before the revocation
        report = node.verify(with_current_crl(node, docs["B-B"], fetched), now=fetched)
        assert (report.indication, report.sub_indication) == (
            Indication.INDETERMINATE,
            "REVOKED_NO_POE",
        )
    finally:
        revoke_clear(node)


def revoke_clear(node: Node) -> None:
    (node.instance / "pki" / "revocations.json").unlink(missing_ok=True)


def test_signed_after_the_revocation_is_revoked(node: Node) -> None:
    node.set_level("B-T")
    pdf = node.pdf(node.post())
    serial = signer_serial(node, pdf)
    revoke(node.instance / "pki", "kz-root", serial, datetime.now(UTC) - timedelta(days=1))
    try:
        node.set_level("B-T")
        signed_after = node.pdf(node.post())  # the registry does not know of the revocation
        report = node.verify(with_current_crl(node, signed_after))
        assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, "REVOKED")
        # a B-LT signature gathers the OCSP answer "revoked" first: refused, nothing signed
        node.set_level("B-LT")
        status, body = node.post_status()
        assert status == 403, body
        assert body["error"] == "certificate_not_usable"
        assert "revoked" in body["message"]
    finally:
        revoke_clear(node)


def test_archive_timestamp_does_not_bless_a_change_after_signing(node: Node) -> None:
    """A visible annotation painted over page 1 after signing (pyHanko alone calls that
    mere ANNOTATIONS), then a genuine archive timestamp from the trusted TSA over it: the
    change is still judged by the strict policy for unsigned updates."""
    import asyncio

    from signing.archive import async_add_archive_timestamp
    from signing.pades import LtvConfig
    from signing.timestamps import http_timestamper

    node.set_level("B-LT")
    tampered = _paint_over_page_one(node.pdf(node.post()))
    from asn1crypto import pem

    roots = tuple(
        bytes(pem.unarmor(p.read_bytes())[2])
        for p in sorted((node.instance / "pki").glob("*-root.pem"))
    )
    stamped = asyncio.run(
        async_add_archive_timestamp(
            tampered, http_timestamper(f"{node.base}/demo-pki/tsa"), LtvConfig(trust_roots=roots)
        )
    )
    report = node.verify(stamped)
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        "FORMAT_FAILURE",
    )
    [sig] = report.signatures
    assert sig.proofs_of_existence[-1].kind == "document"


def _paint_over_page_one(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    rect = generic.ArrayObject([generic.FloatObject(v) for v in (100, 600, 400, 700)])
    appearance = writer.add_object(
        generic.StreamObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/XObject"),
                generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                generic.NameObject("/BBox"): rect,
            },
            stream_data=b"1 1 1 rg 100 600 300 100 re f",
        )
    )
    annot = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Square"),
                generic.NameObject("/Rect"): rect,
                generic.NameObject("/F"): generic.NumberObject(4),
                generic.NameObject("/AP"): generic.DictionaryObject(
                    {generic.NameObject("/N"): appearance}
                ),
            }
        )
    )
    annots = page.get("/Annots", generic.ArrayObject())
    annots = (
        generic.ArrayObject([*annots.get_object(), annot])
        if annots
        else generic.ArrayObject([annot])
    )
    page[generic.NameObject("/Annots")] = annots
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
