# mypy: disallow-untyped-calls=False
"""Facts of the document: XMP metadata and the embedded source XML.

Read from one revision's catalog (the document verifier passes the **signed**
revision's, via pyHanko's historical resolver), with streams decoded by
:func:`.structure.stream_bytes` under the verification's budget.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from pyhanko.pdf_utils import generic

from ..errors import VerificationBudgetExceeded
from .clip import clip, clip_optional
from .report import SOURCE_XML_NAME, SourceValidator, SourceXmlInfo, root_to_type
from .structure import Budget, stream_bytes

MAX_ERROR_CHARS = 2000
"""Characters kept of the schema validator's message about the embedded XML."""

# --------------------------------------------------------------------------- document facts


@dataclass
class _Xmp:
    pdfa_part: str | None = None
    pdfa_conformance: str | None = None
    identifier: str | None = None
    types: list[str] = field(default_factory=list)


_XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
}


def _safe_xml(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


MAX_XMP_BYTES = 1024 * 1024
MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""Decoded size limits; the service's XML limit is checked again by the validator."""


def _read_xmp(root: Any, budget: Budget) -> _Xmp:
    xmp = _Xmp()
    try:
        meta = root.get("/Metadata")
        data = stream_bytes(meta, budget, MAX_XMP_BYTES) if meta is not None else None
    except VerificationBudgetExceeded:
        raise
    except Exception:  # unreadable or unsupported metadata stream = no metadata
        return xmp
    tree = _safe_xml(data) if isinstance(data, bytes) else None
    if tree is None:
        return xmp
    pdfaid = "{" + _XMP_NS["pdfaid"] + "}"
    dc = "{" + _XMP_NS["dc"] + "}"
    rdf = "{" + _XMP_NS["rdf"] + "}"
    for desc in tree.iter(rdf + "Description"):
        for attr, value in desc.attrib.items():
            if attr == pdfaid + "part":
                xmp.pdfa_part = value
            elif attr == pdfaid + "conformance":
                xmp.pdfa_conformance = value
    for name in ("part", "conformance"):
        for elem in tree.iter(pdfaid + name):
            setattr(xmp, f"pdfa_{name}", (elem.text or "").strip() or None)
    for desc in tree.iter(rdf + "Description"):
        if desc.get(dc + "identifier", "").strip():
            xmp.identifier = desc.get(dc + "identifier", "").strip()
    for elem in tree.iter(dc + "identifier"):
        items = [li.text for li in elem.iter(rdf + "li")]
        text = (items[0] if items else elem.text) or ""
        if text.strip():
            xmp.identifier = text.strip()
    for elem in tree.iter(dc + "type"):
        xmp.types.extend((li.text or "").strip() for li in elem.iter(rdf + "li") if li.text)
    return _clipped(xmp)


MAX_XMP_TYPES = 16
"""``dc:type`` entries kept (the service writes four)."""


def _clipped(xmp: _Xmp) -> _Xmp:
    """The facts cut to a report's size (:mod:`.clip`)."""
    xmp.identifier = clip_optional(xmp.identifier)
    xmp.pdfa_part = clip_optional(xmp.pdfa_part)
    xmp.pdfa_conformance = clip_optional(xmp.pdfa_conformance)
    xmp.types = [clip(t) for t in xmp.types[:MAX_XMP_TYPES]]
    return xmp


def _deref(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, generic.PdfObject) else obj


def _embedded_source_xml(root: Any, budget: Budget) -> bytes | None:
    """The associated file named ``source.xml`` with ``/AFRelationship /Source``."""
    try:
        candidates: list[Any] = []
        af = _deref(root.raw_get("/AF")) if "/AF" in root else None
        if isinstance(af, list):
            candidates.extend(af)
        names = _deref(root.raw_get("/Names")) if "/Names" in root else None
        if isinstance(names, generic.DictionaryObject) and "/EmbeddedFiles" in names:
            tree = _deref(names.raw_get("/EmbeddedFiles"))
            flat = _deref(tree.raw_get("/Names")) if "/Names" in tree else None
            if isinstance(flat, list):
                candidates.extend(list(flat)[1::2])
        budget.tick(len(candidates))
        for ref in candidates:
            spec = _deref(ref)
            if not isinstance(spec, generic.DictionaryObject):
                continue
            name = str(spec.get("/UF") or spec.get("/F") or "")
            if name != SOURCE_XML_NAME or spec.get("/AFRelationship") != "/Source":
                continue
            budget.tick()
            stream = _deref(_deref(spec.raw_get("/EF")).raw_get("/F"))
            return stream_bytes(stream, budget, MAX_SOURCE_BYTES)
    except VerificationBudgetExceeded:
        raise
    except Exception:  # a damaged name tree is reported as "no source XML"
        return None
    return None


def _source_facts(
    data: bytes | None, validator: SourceValidator | None
) -> tuple[SourceXmlInfo, str | None]:
    """Facts of the embedded XML and the schema-validation error (if any)."""
    if data is None:
        return SourceXmlInfo(False, None, None, None, None, None, None, None), None
    digest = hashlib.sha256(data).hexdigest()
    key = (digest, validator)
    with _remembered_lock:
        found = _remembered.get(key)
        if found is not None:
            _remembered.move_to_end(key)
            return found
    facts = _xml_facts(data, digest, validator)
    if facts[1] is not None:
        return facts  # an error may be a passing one (time budget): not remembered
    with _remembered_lock:
        _remembered[key] = facts
        while len(_remembered) > REMEMBERED_XML:
            _remembered.popitem(last=False)
    return facts


REMEMBERED_XML = 256
"""Facts of this many recent embedded XML files are remembered (by SHA-256 and validator).

Parsing and schema validation are functions of the bytes alone and the result is
immutable, while the same document is verified again and again; only the small result
of a valid XML is kept, never the XML itself."""
_remembered: OrderedDict[tuple[str, SourceValidator | None], tuple[SourceXmlInfo, str | None]]
_remembered = OrderedDict()
_remembered_lock = threading.Lock()


def _xml_facts(
    data: bytes, digest: str, validator: SourceValidator | None
) -> tuple[SourceXmlInfo, str | None]:
    root = _safe_xml(data)
    if root is None or not isinstance(root.tag, str):
        return (
            SourceXmlInfo(True, False, None, None, None, None, None, digest),
            "the embedded XML is not well-formed",
        )
    local = etree.QName(root).localname
    header: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).localname == "header":
            for item in child:
                if isinstance(item.tag, str):
                    header[clip(etree.QName(item).localname)] = clip((item.text or "").strip())
    schema_valid: bool | None = None
    error: str | None = None
    doc_type: str | None = root_to_type(local)
    sample = root.get("sample") == "true"
    if validator is not None and not sample:  # placeholders are not schema-valid by design
        try:
            doc_type = validator(data)
            schema_valid = True
        except Exception as exc:  # the validator's own error type: report its message
            schema_valid = False
            error = clip(str(exc).strip() or type(exc).__name__, MAX_ERROR_CHARS)
    return (
        SourceXmlInfo(
            present=True,
            schema_valid=schema_valid,
            document_type=doc_type,
            document_id=header.get("documentId", "").lower() or None,
            sender=header.get("sender") or None,
            recipient=header.get("recipient") or None,
            signatory=header.get("signatory") or None,
            sha256=digest,
            sample=sample,
            form_version=clip_optional(root.get("formVersion")) if sample else None,
        ),
        error,
    )
