"""Stage 1 of the pipeline: raw bytes → parsed, safe, schema-valid XML tree.

Parsing never resolves entities, loads a DTD or touches the network; a document with a
DOCTYPE is refused outright.  Schema validation uses one :class:`xmlschema.XMLSchema10`
built once per process from ``schemas/migdocs.xsd``.  Every problem is reported as a
:class:`~service.errors.Violation` with its line and an XPath of local names.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import xmlschema
from lxml import etree

from .errors import InputTooLarge, MalformedXml, SchemaViolation, UnsafeXml, Violation
from .paths import SCHEMA_DIR

NAMESPACE = "urn:migdocs:kz-by-migration:v1"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
"""No valid document nests deeper than 6 levels; 32 leaves room and stops abuse early."""

ROOT_TO_TYPE: dict[str, str] = {
    "request": "request",
    "response": "response",
    "refusalNotice": "refusal-notice",
}
"""Root element local name → document type code used everywhere else."""


@dataclass(frozen=True)
class ParsedXml:
    """A posted document that passed parsing and schema validation."""

    raw: bytes
    """The bytes exactly as posted; embedded unchanged in the PDF."""
    root: etree._Element
    document_type: str


@functools.cache
def schema() -> xmlschema.XMLSchema10:
    """The schema of all document types, built once per process."""
    return xmlschema.XMLSchema10(
        str(SCHEMA_DIR / "migdocs.xsd"), allow="sandbox", defuse="always"
    )


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def element_path(elem: etree._Element) -> str:
    """XPath of local names with positions where siblings share a name."""
    parts: list[str] = []
    node: etree._Element | None = elem
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def parse(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse bytes into an element tree, refusing oversize, malformed or unsafe input."""
    if len(raw) > max_bytes:
        raise InputTooLarge(
            f"document is {len(raw)} bytes; the limit is {max_bytes} bytes",
            (Violation(None, "/", "document too large"),),
        )
    if not raw.strip():
        raise MalformedXml("document is empty", (Violation(1, "/", "no XML content"),))
    parser = _parser()
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        violations = tuple(
            Violation(entry.line or None, "/", entry.message.strip())
            for entry in exc.error_log
        ) or (Violation(exc.lineno, "/", str(exc)),)
        raise MalformedXml("document is not well-formed XML", violations) from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXml(
            "DOCTYPE declarations are not allowed",
            (Violation(1, "/", "remove the <!DOCTYPE …> declaration and any entities"),),
        )
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            if isinstance(elem, etree._Entity):
                raise UnsafeXml(
                    "entity references are not allowed",
                    (Violation(elem.sourceline, element_path(elem.getparent() or root),
                               f"entity reference {elem.text}"),),
                )
            continue
        depth = sum(1 for _ in elem.iterancestors())
        if depth >= MAX_DEPTH:
            raise UnsafeXml(
                f"document nests deeper than {MAX_DEPTH} levels",
                (Violation(elem.sourceline, element_path(elem), "too deep"),),
            )
    return root


def _violation(error: xmlschema.XMLSchemaValidationError) -> Violation:
    elem = error.elem
    if not isinstance(elem, etree._Element):
        return Violation(None, error.path or "/", error.reason or error.message)
    index = getattr(error, "index", None)
    reason = error.reason or error.message
    # "Unexpected child" errors point at the parent; point at the child itself.
    if isinstance(index, int) and 0 <= index < len(elem) and "nexpected child" in reason:
        child = elem[index]
        return Violation(child.sourceline, element_path(child),
                         f"element <{etree.QName(child).localname}> is not allowed here")
    return Violation(elem.sourceline, element_path(elem), reason)


def validate(root: etree._Element) -> str:
    """Check the tree against the schema; return the document type code."""
    qname = etree.QName(root)
    if qname.namespace != NAMESPACE or qname.localname not in ROOT_TO_TYPE:
        expected = ", ".join(f"{{{NAMESPACE}}}{name}" for name in ROOT_TO_TYPE)
        raise SchemaViolation(
            "unknown root element",
            (Violation(root.sourceline, "/" + qname.localname,
                       f"root element {{{qname.namespace or ''}}}{qname.localname} "
                       f"is not a document type; expected one of {expected}"),),
        )
    resource = xmlschema.XMLResource(root, allow="none", defuse="always")
    violations = tuple(_violation(e) for e in schema().iter_errors(resource))
    if violations:
        count = len(violations)
        raise SchemaViolation(
            f"document violates the schema ({count} problem{'s' if count > 1 else ''})",
            violations,
        )
    return ROOT_TO_TYPE[qname.localname]


def load(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedXml:
    """Parse and validate posted bytes."""
    root = parse(raw, max_bytes)
    return ParsedXml(raw=raw, root=root, document_type=validate(root))
