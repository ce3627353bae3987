"""Facts copied from the uploaded file into the report are cut to a report's size
(adversarial review, round four): a 10 KB upload whose compressed source XML held a 10 MB
sender made an 18 MB JSON answer, a 9 MB page, a 110-second PDF report under the render
lock, and hundreds of megabytes in the facts cache."""

from __future__ import annotations

import html
import io
import json
import re
import time
import zlib

from tests.verification.conftest import Env
from tests.verification.hostile.conftest import verify_api

HUGE = 2_000_000


def _pdf(identifier: str, sender: str) -> bytes:
    """An unsigned PDF with an XMP identifier and a compressed ``source.xml``."""
    xml = (
        f'<request xmlns="urn:x" sample="true" formVersion="{"9" * HUGE}"><header>'
        f"<documentId>x</documentId><sender>{sender}</sender>"
        "<recipient>BY-MVD</recipient></header></request>"
    ).encode()
    packed = zlib.compress(xml, 9)
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Description rdf:about="">'
        f"<dc:identifier>{identifier}</dc:identifier></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    xmp_packed = zlib.compress(xmp, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AF [4 0 R] /Metadata 6 0 R "
        b"/Names << /EmbeddedFiles << /Names [(source.xml) 4 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /Filespec /F (source.xml) /UF (source.xml) /AFRelationship /Source "
        b"/EF << /F 5 0 R >> >>",
        b"<< /Type /EmbeddedFile /Filter /FlateDecode /Length %d >>\nstream\n" % len(packed)
        + packed
        + b"\nendstream",
        b"<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length %d >>\nstream\n"
        % len(xmp_packed)
        + xmp_packed
        + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n\r\n" % o for o in offsets))
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_facts_from_the_file_are_cut_to_a_reports_size(sqlite_env: Env) -> None:
    pdf = _pdf("K" * 500_000, "ab " * (HUGE // 3))  # the XMP packet may hold 1 MiB
    assert len(pdf) < 64 * 1024
    start = time.perf_counter()
    report = verify_api(sqlite_env, pdf)
    assert time.perf_counter() - start < 5
    assert len(json.dumps(report, ensure_ascii=False)) < 50_000
    source = report["source_xml"]
    assert source["present"] is True
    assert source["sender"].startswith("ab ab") and "всего" in source["sender"]
    assert len(source["sender"]) < 300
    assert len(report["registration_number"] or "") < 300
    page = sqlite_env.client.post(
        "/verify", data={"file": (io.BytesIO(pdf), "big.pdf")}, content_type="multipart/form-data"
    )
    assert page.status_code == 200
    assert len(page.data) < 200_000
    found = re.search(
        rb'name="report" value="([^"]*)"><input type="hidden" name="mac" value="([^"]*)"', page.data
    )
    assert found is not None, "the page offers the PDF report"
    start = time.perf_counter()
    pdf_report = sqlite_env.client.post(
        "/verify/report.pdf",
        data={"report": html.unescape(found[1].decode()), "mac": found[2].decode()},
    )
    assert time.perf_counter() - start < 10
    assert pdf_report.status_code == 200, pdf_report.data[:300]
    assert pdf_report.data.startswith(b"%PDF-")
