"""Reading helpers shared by the builders of the typed document (:mod:`.reading`,
:mod:`.answers`): element lookup in the documents' namespace, texts, dates, references,
and the cross-field rules XSD 1.0 cannot express (collected as violations, never raised).

Every helper assumes a schema-valid tree: a required element is present.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from lxml import etree

from service.errors import Violation
from service.pipeline.document import Header, RequestReference
from service.pipeline.xmlinput import NAMESPACE, element_path

T = TypeVar("T")


def q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def child(elem: etree._Element, name: str) -> etree._Element | None:
    return elem.find(q(name))


def text(elem: etree._Element, name: str) -> str:
    found = child(elem, name)
    if found is None or found.text is None:
        raise KeyError(name)  # unreachable for schema-valid input
    return str(found.text).strip()


def opt_text(elem: etree._Element, name: str) -> str | None:
    found = child(elem, name)
    return found.text.strip() if found is not None and found.text else None


def date(elem: etree._Element, name: str) -> dt.date:
    return dt.date.fromisoformat(text(elem, name)[:10])


def opt_date(elem: etree._Element, name: str) -> dt.date | None:
    value = opt_text(elem, name)
    return dt.date.fromisoformat(value[:10]) if value else None


def all_of(elem: etree._Element, name: str, build: Callable[[etree._Element], T]) -> tuple[T, ...]:
    return tuple(build(found) for found in elem.iterfind(q(name)))


def reference_of(
    e: etree._Element, header: Header, problems: list[Violation], what: str
) -> RequestReference:
    """«№ … от …» of element ``e``; its date may not be later than this document's."""
    reference = RequestReference(text(e, "registrationNumber"), date(e, "date"))
    if reference.date > header.document_date:
        date_elem = child(e, "date")
        assert date_elem is not None
        problems.append(
            Violation(
                date_elem.sourceline,
                element_path(date_elem),
                f"the {what} date {reference.date} is later than this document's date "
                f"{header.document_date}",
            )
        )
    return reference


def reference(
    root: etree._Element,
    header: Header,
    problems: list[Violation],
    name: str = "inReplyTo",
    what: str = "request",
) -> RequestReference:
    e = child(root, name)
    assert e is not None
    return reference_of(e, header, problems, what)


def not_before(
    root: etree._Element, name: str, header: Header, problems: list[Violation]
) -> dt.date | None:
    """An optional future date (expected date, reply-by date) not before the document date."""
    value = opt_date(root, name)
    if value is not None and value < header.document_date:
        elem = child(root, name)
        assert elem is not None
        problems.append(
            Violation(
                elem.sourceline,
                element_path(elem),
                f"{value} is earlier than this document's date {header.document_date}",
            )
        )
    return value


def required_if(
    root: etree._Element,
    name: str,
    cause: str,
    required: bool,
    allowed: bool,
    problems: list[Violation],
) -> str | None:
    """An optional text that the closed-list value of element ``cause`` requires or forbids."""
    value = opt_text(root, name)
    cause_elem = child(root, cause)
    assert cause_elem is not None
    code = (cause_elem.text or "").strip()
    if value is None and required:
        problems.append(
            Violation(
                cause_elem.sourceline,
                element_path(cause_elem),
                f"<{cause}>{code}</{cause}> requires element <{name}> with text",
            )
        )
    elif value is not None and not allowed:
        elem = child(root, name)
        assert elem is not None
        problems.append(
            Violation(
                elem.sourceline,
                element_path(elem),
                f"element <{name}> is not allowed when <{cause}> is {code!r}",
            )
        )
    return value
