# mypy: disallow-untyped-calls=False
"""Did the document's metadata change after signing beyond what a validation-data update
writes?

Viewers show the XMP and ``/Info`` metadata (the window title is ``dc:title``), so an
unsigned update that rewrites them shows other facts than the signed document.  pyHanko's
``MetadataUpdateRule`` accepts any well-formed XMP; this is stricter: every XMP property
and every ``/Info`` entry must keep its value, except the ones pyHanko's own incremental
writer refreshes when the service adds validation data (DSS) or an archive timestamp —
the modification dates and the producer as pyHanko rewrites it (:func:`producer_refreshed`).

XMP is compared as properties, not bytes: pyHanko re-serialises the packet (simple
properties as attributes of one ``rdf:Description`` instead of elements of several), so
``<dc:identifier>X</dc:identifier>`` and ``dc:identifier="X"`` are the same value.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from pyhanko.pdf_utils import generic

from .facts import MAX_XMP_BYTES, _safe_xml
from .structure import Budget, get, stream_bytes

_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_XMP = "{http://ns.adobe.com/xap/1.0/}"
_PDF = "{http://ns.adobe.com/pdf/1.3/}"

_XMP_DATES = {f"{_XMP}ModifyDate", f"{_XMP}MetadataDate"}
"""XMP properties a validation-data update may set (to a date)."""
_XMP_PRODUCER = f"{_PDF}Producer"
_INFO_DATES = {"/ModDate"}
_INFO_PRODUCER = "/Producer"

_ISO_DATE = re.compile(r"\d{4}(-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?)?)?")
_PDF_DATE = re.compile(r"D:\d{4}(\d\d){0,5}(Z|[+-]\d\d'?(\d\d'?)?)?")
_PYHANKO = r"pyHanko \d+(?:\.\d+){1,3}(?:(?:a|b|rc)\d+|\.dev\d+|\.post\d+)?"
_PYHANKO_SUFFIX = re.compile(rf"; {_PYHANKO}$")
_PYHANKO_PRODUCER = re.compile(rf"(?:(.*); )?{_PYHANKO}")

Value = tuple[Any, ...]


def _node(element: etree._Element) -> Value:
    """A structured value: its tag, attributes, text and children, recursively."""
    children = tuple(_node(c) for c in element if isinstance(c.tag, str))
    attributes = tuple(sorted((str(k), str(v)) for k, v in element.attrib.items()))
    return (element.tag, attributes, (element.text or "").strip(), children)


def _value(element: etree._Element) -> Value:
    """A property element's value; a simple one equals its attribute form."""
    if not element.attrib and not any(isinstance(c.tag, str) for c in element):
        return ("text", (element.text or "").strip())
    return _node(element)[1:]


_CANONICAL_PREFIXES = {
    "x": "adobe:ns:meta/",
    "rdf": _RDF[1:-1],
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": _XMP[1:-1],
    "pdf": _PDF[1:-1],
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}


def _packet(root: Any, budget: Budget) -> etree._Element | None:
    metadata = get(root, "/Metadata")
    if metadata is None:
        return None
    return _safe_xml(stream_bytes(metadata, budget, MAX_XMP_BYTES))


def plain_packet(tree: etree._Element, budget: Budget) -> bool:
    """A packet that every XMP reader reads alike: no comments, processing instructions
    or text outside leaf elements (pdf.js concatenates every text node of a property;
    we would read only the first), one ``rdf:RDF`` of ``rdf:Description`` nodes, and the
    well-known prefixes bound to their own namespaces only (pdf.js finds ``rdf:RDF`` and
    ``dc:title`` by prefix, we by namespace)."""
    rdf = tree if tree.tag == f"{_RDF}RDF" else None
    if rdf is None:
        children = [c for c in tree if isinstance(c.tag, str)]
        if len(children) != 1 or children[0].tag != f"{_RDF}RDF":
            return False
        rdf = children[0]
    if any(c.tag != f"{_RDF}Description" for c in rdf):  # comments and PIs too
        return False
    for node in tree.iter():
        budget.tick()
        if not isinstance(node.tag, str):
            return False  # a comment or processing instruction
        if (node.tail or "").strip() and node is not tree:
            return False
        if (node.text or "").strip() and len(node):
            return False  # mixed content
        for prefix, namespace in node.nsmap.items():
            canonical = _CANONICAL_PREFIXES.get(prefix or "")
            if canonical is not None and namespace != canonical:
                return False
            if (
                namespace in _CANONICAL_PREFIXES.values()
                and _CANONICAL_PREFIXES.get(prefix or "") != namespace
            ):
                return False
    return True


def xmp_properties(tree: etree._Element | None, budget: Budget) -> dict[str, list[Value]] | None:
    """Every property of an XMP packet (name → its values, sorted); ``None`` without a
    readable packet."""
    if tree is None:
        return None
    found: dict[str, list[Value]] = {}
    descriptions = tree.iter(f"{_RDF}Description")
    for description in descriptions:
        budget.tick()
        if description.getparent() is None or description.getparent().tag != f"{_RDF}RDF":
            continue  # a structured value's inner description belongs to its property
        for name, text in description.attrib.items():
            if not str(name).startswith(_RDF):
                found.setdefault(str(name), []).append(("text", str(text).strip()))
        for element in description:
            if isinstance(element.tag, str):
                found.setdefault(element.tag, []).append(_value(element))
    return {name: sorted(values) for name, values in found.items()}


def _producer_base(value: Any) -> str:
    return _PYHANKO_SUFFIX.sub("", str(value))


def producer_refreshed(old: Any, new: Any) -> bool:
    """``new`` is what pyHanko's writer makes of producer ``old``: the same, or
    ``pyHanko <version>`` after the old producer (without its own pyHanko suffix) or alone
    (a DSS update by pyHanko outside the service writes the XMP producer that way)."""
    if old == new:
        return True
    match = _PYHANKO_PRODUCER.fullmatch(str(new))
    return match is not None and match.group(1) in (None, _producer_base(old))


def _is_date(values: list[Value], pattern: re.Pattern[str]) -> bool:
    return all(v[0] == "text" and pattern.fullmatch(str(v[1])) for v in values)


def _xmp_differs(
    before: dict[str, list[Value]] | None, after: dict[str, list[Value]] | None
) -> bool:
    if before is None or after is None:
        return before != after
    for name in set(before) | set(after):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name in _XMP_DATES and new is not None and _is_date(new, _ISO_DATE):
            continue
        if (
            name == _XMP_PRODUCER
            and old is not None
            and new is not None
            and len(old) == len(new) == 1
            and old[0][0] == new[0][0] == "text"
            and producer_refreshed(old[0][1], new[0][1])
        ):
            continue
        return True
    return False


def _info(resolver: Any) -> dict[str, Any]:
    """The ``/Info`` entries as ``resolver`` (a reader or one revision of it) has them.

    Resolved through ``resolver`` itself: a historical revision's trailer hands out
    references bound to the *reader*, which would give today's ``/Info`` for the signed
    revision's, and an in-place rewrite of it would compare equal to itself."""
    raw = resolver.trailer_view.raw_get("/Info") if "/Info" in resolver.trailer_view else None
    info = resolver.get_object(raw.reference) if isinstance(raw, generic.IndirectObject) else raw
    if not isinstance(info, generic.DictionaryObject):
        return {}
    return {str(key): info[key] for key in info}


def _info_differs(before: dict[str, Any], after: dict[str, Any]) -> bool:
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key in _INFO_DATES and isinstance(new, str) and _PDF_DATE.fullmatch(new):
            continue
        if (
            key == _INFO_PRODUCER
            and isinstance(old, str)
            and isinstance(new, str)
            and producer_refreshed(old, new)
        ):
            continue
        return True
    return False


def metadata_differs(before: Any, after: Any, budget: Budget) -> bool:
    """The XMP properties or ``/Info`` entries of ``after`` (a reader or historical
    resolver) differ from ``before``'s beyond the dates and the producer suffix a
    validation-data update writes."""
    old, new = _packet(before.root, budget), _packet(after.root, budget)
    rewritten = new is not None and (old is None or etree.tostring(old) != etree.tostring(new))
    if rewritten and not plain_packet(new, budget):
        return True
    return _xmp_differs(xmp_properties(old, budget), xmp_properties(new, budget)) or (
        _info_differs(_info(before), _info(after))
    )
