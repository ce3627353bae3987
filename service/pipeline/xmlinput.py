"""Stage 1 of the pipeline: raw bytes → parsed, safe, schema-valid XML tree.

Parsing never resolves entities, loads a DTD or touches the network; a document with a
DOCTYPE is refused outright.  Schema validation uses one :class:`xmlschema.XMLSchema10`
built once per process from ``schemas/migdocs.xsd``.  Every problem is reported as a
:class:`~service.errors.Violation` with its line and an XPath of local names.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass
from typing import NoReturn

import xmlschema
from lxml import etree

from service.errors import InputTooLarge, MalformedXml, SchemaViolation, UnsafeXml, Violation
from service.paths import SCHEMA_DIR

NAMESPACE = "urn:migdocs:kz-by-migration:v1"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
"""No valid document nests deeper than 6 levels; 32 leaves room and stops abuse early."""
MAX_ELEMENTS = 250_000
"""The schema's largest document (200 persons with every record) has ~200,000 elements."""
MAX_ATTRIBUTES_PER_ELEMENT = 8
"""No element of the schema has more than 2 attributes."""
EXPLAIN_MAX_ELEMENTS = 20_000
"""Above this, a refused document is explained by libxml2's error log only: the detailed
xmlschema pass costs ~1 ms per element and must not become a way to burn CPU."""
EXPLAIN_MAX_ERRORS = 50
"""The detailed pass stops after this many problems (and so does libxml2's list)."""
EXPLAIN_BUDGET_SECONDS = 2.0
"""The detailed pass stops when it has run this long; libxml2's findings are kept."""

ROOT_TO_TYPE: dict[str, str] = {
    "request": "request",
    "response": "response",
    "refusalNotice": "refusal-notice",
    "additionalInformationRequest": "additional-information-request",
    "delayNotice": "delay-notice",
    "postponementNotice": "postponement-notice",
    "authenticityConfirmationRequest": "authenticity-confirmation-request",
    "authenticityConfirmation": "authenticity-confirmation",
    "unsolicitedInformation": "unsolicited-information",
    "confidentialityNotice": "confidentiality-notice",
    "thirdPartyConsentRequest": "third-party-consent-request",
    "thirdPartyConsent": "third-party-consent",
    "additionalInformation": "additional-information",
    "conditionsDecision": "conditions-decision",
    "confidentialityDecision": "confidentiality-decision",
    "requestWithdrawal": "request-withdrawal",
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
    return xmlschema.XMLSchema10(str(SCHEMA_DIR / "migdocs.xsd"), allow="sandbox", defuse="always")


_thread_local = threading.local()


def fast_schema() -> etree.XMLSchema:
    """libxml2's validator over the same XSD: ~15× faster, used to accept valid documents.

    Its messages are terse, so a document it rejects is validated again by
    :func:`schema` (xmlschema), whose errors name the element, the value and the rule.
    One instance per thread (building one takes ~2 ms), so error logs never mix.
    """
    cached: etree.XMLSchema | None = getattr(_thread_local, "schema", None)
    if cached is None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        cached = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "migdocs.xsd"), parser))
        _thread_local.schema = cached
    return cached


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


_PROLOG_DOCTYPE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?(?:\s|<!--.*?-->|<\?.*?\?>)*<!DOCTYPE", re.DOTALL
)
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_DOCTYPE_VIOLATION = "remove the <!DOCTYPE …> declaration and any entities"


def _doctype_line(raw: bytes) -> int:
    return raw[: raw.find(b"<!DOCTYPE")].count(b"\n") + 1


def parse(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse bytes into an element tree, refusing oversize, malformed or unsafe input."""
    if len(raw) > max_bytes:
        raise InputTooLarge(
            f"document is {len(raw)} bytes; the limit is {max_bytes} bytes",
            (Violation(None, "/", "document too large"),),
        )
    if not raw.strip():
        raise MalformedXml("document is empty", (Violation(1, "/", "no XML content"),))
    # Refuse a DTD before libxml2 sees it: entity bombs then never reach the parser.
    if _PROLOG_DOCTYPE.match(raw):
        raise UnsafeXml(
            "DOCTYPE declarations are not allowed",
            (Violation(_doctype_line(raw), "/", _DOCTYPE_VIOLATION),),
        )
    parser = _parser()
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        # parser.error_log holds this parse's errors only (the global log accumulates).
        entries = list(parser.error_log)
        if any("depth" in e.message.lower() or "XML_PARSE_HUGE" in e.message for e in entries):
            raise UnsafeXml(
                "document nests too deeply",
                (
                    Violation(
                        entries[0].line or None,
                        "/",
                        f"elements may nest at most {MAX_DEPTH} levels",
                    ),
                ),
            ) from None
        violations = tuple(
            Violation(e.line or None, "/", _syntax_message(e.message)) for e in entries
        ) or (Violation(exc.lineno, "/", str(exc)),)
        raise MalformedXml("document is not well-formed XML", violations) from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXml(
            "DOCTYPE declarations are not allowed",
            (Violation(_doctype_line(raw), "/", _DOCTYPE_VIOLATION),),
        )
    _check_nodes(root)
    return root


def _check_nodes(root: etree._Element) -> None:
    """One cheap pass over every node: entities, xsi:, depth, size and mixed content.

    Runs before any schema validation, so its cost bounds what a hostile document can
    make the validators do.
    """
    elements = 0
    for node in root.iter():
        if isinstance(node, etree._Entity):
            parent = node.getparent()
            where = parent if parent is not None else root
            _refuse(
                node, where, "entity references are not allowed", f"entity reference {node.text}"
            )
        if isinstance(node, (etree._Comment, etree._ProcessingInstruction)):
            _check_markup_in_text(node, root)
            continue
        if not isinstance(node.tag, str):
            continue
        elements += 1
        if elements > MAX_ELEMENTS:
            _refuse(
                node,
                node,
                "document has too many elements",
                f"a document may have at most {MAX_ELEMENTS} elements",
            )
        _check_attributes(node)
        depth = sum(1 for _ in node.iterancestors())
        if depth >= MAX_DEPTH:
            _refuse(
                node,
                node,
                "document nests too deeply",
                f"elements may nest at most {MAX_DEPTH} levels",
            )


def _refuse(node: etree._Element, where: etree._Element, message: str, detail: str) -> NoReturn:
    raise UnsafeXml(message, (Violation(node.sourceline, element_path(where), detail),))


def _check_attributes(elem: etree._Element) -> None:
    if len(elem.attrib) > MAX_ATTRIBUTES_PER_ELEMENT:
        _refuse(
            elem,
            elem,
            "element has too many attributes",
            f"element <{etree.QName(elem).localname}> has {len(elem.attrib)} attributes; "
            f"at most {MAX_ATTRIBUTES_PER_ELEMENT} are accepted (the schema uses 2)",
        )
    for attribute in elem.attrib:
        if attribute.startswith(_XSI):
            _refuse(
                elem,
                elem,
                "xsi: attributes are not allowed",
                f"remove attribute xsi:{etree.QName(attribute).localname}; the "
                "document type follows from the root element",
            )


def _check_markup_in_text(node: etree._Element, root: etree._Element) -> None:
    """Refuse a comment or processing instruction inside an element that holds text.

    lxml's ``.text`` stops at the first comment, so ``<surname>Д'Арт<!-- -->аньян</surname>``
    would print as «Д'Арт» while the signed XML says «Д'Артаньян».  Rather than have every
    reader of the tree join text nodes, such documents are refused: a signed document never
    shows less than its XML says.  Comments between elements stay allowed.
    """
    parent = node.getparent()
    if parent is None:
        return  # before or after the root element
    if any(isinstance(child.tag, str) for child in parent):
        return  # element content: stray text next to it is a schema error anyway
    kind = "comment" if isinstance(node, etree._Comment) else "processing instruction"
    raise UnsafeXml(
        f"a {kind} inside a data element is not allowed",
        (
            Violation(
                node.sourceline,
                element_path(parent),
                f"remove the {kind} from <{etree.QName(parent).localname}>: data elements hold "
                "text only (the text around it would be read as separate pieces)",
            ),
        ),
    )


def _syntax_message(message: str) -> str:
    message = message.strip()
    if "Input is not proper UTF-8" in message or "invalid character in" in message.lower():
        return (
            f"{message} (the document must be encoded as its XML declaration says, UTF-8 "
            "unless declared otherwise)"
        )
    return message


_PATTERN_HINTS: dict[str, str] = {
    "Uuid": "must be a UUID such as 3f1c2a7e-0b5d-4c8e-9a61-2d7f4b9e8c10",
    "LatinName": "must be Latin letters A–Z, words joined by a space, hyphen or apostrophe",
    "CyrillicName": "must be Cyrillic letters, words joined by a space, hyphen or apostrophe",
    "Text": "must not be blank",
    "ShortText": "must not be blank",
    "CountryCode": "must be an ISO 3166-1 alpha-3 code in capitals, e.g. KAZ, BLR, XXA",
    "SignatoryId": "must be a signatory identifier such as KZ-MVD-001",
    "FileName": "must be a plain file name of Latin letters, digits, '.', '_' or '-'",
    "Date": "must be a date written YYYY-MM-DD",
}


def _foreign_characters(value: str, type_name: str) -> str:
    if type_name == "LatinName":
        bad = sorted({ch for ch in value if not ("A" <= ch.upper() <= "Z" or ch in " -'’")})
    elif type_name == "CyrillicName":
        bad = sorted({ch for ch in value if not ("\u0400" <= ch <= "\u04ff" or ch in " -'’")})
    else:
        return ""
    return "; found " + ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in bad) if bad else ""


def _simple_message(error: xmlschema.XMLSchemaValidationError, reason: str) -> str:
    validator = error.validator
    parent = getattr(validator, "parent", None)
    name = getattr(parent, "name", None)
    type_name = etree.QName(name).localname if name else ""
    value = error.obj if isinstance(error.obj, str) else None
    if type(validator).__name__ in ("XsdPatternFacets", "XsdMinLengthFacet") and value is not None:
        hint = _PATTERN_HINTS.get(type_name, "has the wrong form")
        if not value.strip():
            return "value is blank; it must contain text"
        return f"{value.strip()!r} {hint}{_foreign_characters(value, type_name)}"
    if type(validator).__name__ == "XsdEnumerationFacets" and value is not None:
        allowed = ", ".join(str(v) for v in getattr(validator, "enumeration", ()))
        return f"{value.strip()!r} is not one of: {allowed}"
    if "duplicated value" in reason and isinstance(error.obj, etree._Element):
        return f"{(error.obj.text or '').strip()!r} is listed more than once"
    return reason


def _violation(error: xmlschema.XMLSchemaValidationError) -> Violation:
    elem = error.elem
    reason = error.reason or error.message
    if not isinstance(elem, etree._Element):
        return Violation(None, error.path or "/", reason)
    index = getattr(error, "index", None)
    expected = [etree.QName(t).localname for t in getattr(error, "expected_tags", None) or ()]
    expecting = f"; expected <{'> or <'.join(expected)}>" if expected else ""
    # "Unexpected child" errors point at the parent; point at the child itself.
    if isinstance(index, int) and 0 <= index < len(elem) and "nexpected child" in reason:
        child = elem[index]
        return Violation(
            child.sourceline,
            element_path(child),
            f"element <{etree.QName(child).localname}> is not allowed here{expecting}",
        )
    if "not complete" in reason:
        return Violation(
            elem.sourceline,
            element_path(elem),
            f"element <{etree.QName(elem).localname}> is incomplete{expecting}",
        )
    if "duplicated value" in reason:
        return Violation(elem.sourceline, element_path(elem), _simple_message(error, reason))
    return Violation(elem.sourceline, element_path(elem), _simple_message(error, reason))


def validate(root: etree._Element) -> str:
    """Check the tree against the schema; return the document type code."""
    qname = etree.QName(root)
    if qname.namespace != NAMESPACE or qname.localname not in ROOT_TO_TYPE:
        expected = ", ".join(f"{{{NAMESPACE}}}{name}" for name in ROOT_TO_TYPE)
        raise SchemaViolation(
            "unknown root element",
            (
                Violation(
                    root.sourceline,
                    "/" + qname.localname,
                    f"root element {{{qname.namespace or ''}}}{qname.localname} "
                    f"is not a document type; expected one of {expected}",
                ),
            ),
        )
    fast = fast_schema()
    try:
        if fast.validate(root):
            return ROOT_TO_TYPE[qname.localname]
    except etree.Error:
        pass  # fall through to the explanation
    violations = _explain(root, fast)
    count = len(violations)
    raise SchemaViolation(
        f"document violates the schema ({count} problem{'s' if count > 1 else ''})",
        violations,
    )


def _libxml2_violations(root: etree._Element, fast: etree.XMLSchema) -> tuple[Violation, ...]:
    """libxml2's findings, cheap and terse, with paths of local names where it gives one."""
    result = []
    for entry in list(fast.error_log)[:EXPLAIN_MAX_ERRORS]:
        path = "/"
        try:
            found = root.getroottree().xpath(entry.path) if entry.path else None
        except etree.XPathError:
            found = None  # a path with prefixes libxml2 made up: keep "/"
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            path = element_path(found[0])
        message = entry.message.replace(f"{{{NAMESPACE}}}", "")
        result.append(Violation(entry.line or None, path, message))
    return tuple(result) or (Violation(root.sourceline, "/", "document violates the schema"),)


def _explain(root: etree._Element, fast: etree.XMLSchema) -> tuple[Violation, ...]:
    """Why a document is invalid, within a budget.

    libxml2's error log comes first: it costs nothing more.  The detailed xmlschema pass,
    whose messages name the value and the rule, runs only for documents of at most
    :data:`EXPLAIN_MAX_ELEMENTS` elements, stops after :data:`EXPLAIN_MAX_ERRORS` problems
    and after :data:`EXPLAIN_BUDGET_SECONDS`.
    """
    basic = _libxml2_violations(root, fast)
    if sum(1 for _ in root.iter()) > EXPLAIN_MAX_ELEMENTS:
        return basic
    resource = xmlschema.XMLResource(root, allow="none", defuse="always")
    detailed = schema()  # built before the clock starts: its first build takes seconds
    deadline = time.monotonic() + EXPLAIN_BUDGET_SECONDS
    seen: dict[tuple[int | None, str], Violation] = {}
    for error in detailed.iter_errors(resource):
        violation = _violation(error)
        # One message per element: a blank value fails minLength and pattern alike.
        seen.setdefault((violation.line, violation.path), violation)
        if len(seen) >= EXPLAIN_MAX_ERRORS or time.monotonic() > deadline:
            break
    # The two validators disagree (should not happen): report libxml2's findings.
    return tuple(seen.values()) or basic


def load(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedXml:
    """Parse and validate posted bytes."""
    root = parse(raw, max_bytes)
    return ParsedXml(raw=raw, root=root, document_type=validate(root))
