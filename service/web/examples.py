"""Examples of the OpenAPI document, taken from ``samples/``: a posted XML document, the
metadata it is answered with, and the errors of the invalid samples (each paired with
its ``.expected.json``)."""

from __future__ import annotations

import functools
import json
from typing import Any

from lxml import etree

from service.paths import SAMPLES_DIR
from service.pipeline.xmlinput import NAMESPACE, ROOT_TO_TYPE

REQUEST_SAMPLE = "request-photo.xml"
"""Sent by KZ-MVD, the authority of the demo API key printed by ``scripts/run.sh``."""
EXAMPLE_ID = "0b6f9a52-6f1e-4a43-9a0e-5d8c2f7e1a11"


@functools.cache
def xml_examples() -> dict[str, Any]:
    return {
        name.removesuffix(".xml"): {
            "summary": summary,
            "value": (SAMPLES_DIR / name).read_text(encoding="utf-8"),
        }
        for name, summary in (
            (REQUEST_SAMPLE, "A request of KZ-MVD to BY-MVD with a photo (Art. 8)"),
            ("request-legislation.xml", "A request of KZ-MTSZN about legislation"),
        )
    }


def _header(name: str) -> dict[str, str]:
    root = etree.parse(str(SAMPLES_DIR / name), etree.XMLParser(resolve_entities=False)).getroot()
    header = root.find(f"{{{NAMESPACE}}}header")
    assert header is not None
    fields = {etree.QName(child).localname: (child.text or "") for child in header}
    fields["type"] = ROOT_TO_TYPE[etree.QName(root).localname]
    return fields


@functools.cache
def document_example() -> dict[str, Any]:
    """The metadata answered to :data:`REQUEST_SAMPLE` (hashes and times vary)."""
    header = _header(REQUEST_SAMPLE)
    number = f"{header['sender']}-2026-000001"
    base = f"/api/v1/documents/{EXAMPLE_ID}"
    return {
        "id": EXAMPLE_ID,
        "registration_number": number,
        "document_type": header["type"],
        "upstream_id": header["documentId"],
        "sender": header["sender"],
        "recipient": header["recipient"],
        "document_date": header["documentDate"],
        "sha256": "9f2c…",
        "xml_sha256": "41d7…",
        "page_count": 2,
        "form_version": "1.0",
        "signed_at": f"{header['documentDate']}T09:30:12+00:00",
        "signatory": {"id": header.get("signatory", ""), "name": "…"},
        "links": {"self": base, "pdf": f"{base}/pdf", "xml": f"{base}/xml"},
    }


@functools.cache
def error_examples() -> dict[str, dict[str, Any]]:
    """``{error, message, details}`` of each invalid sample, by sample name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((SAMPLES_DIR / "invalid").glob("*.expected.json")):
        expected = json.loads(path.read_text(encoding="utf-8"))
        details = [
            {
                "code": expected["code"],
                "line": v.get("line"),
                "path": v.get("path", "/"),
                "message": v.get("contains", ""),
            }
            for v in expected.get("violations", [])
        ]
        found[path.name.removesuffix(".expected.json")] = {
            "error": expected["code"],
            "message": f"samples/invalid/{path.name.replace('.expected.json', '.xml')} is refused",
            "details": details,
        }
    return found
