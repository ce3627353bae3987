"""Free text that looks like personal data outside the person blocks (Art. 6): warnings.

Personal data of Art. 6 travel only in ``<person>`` blocks, about the persons of Art. 5;
free text (summary, narrative, reasons, …) must not carry them.  XSD cannot tell, and a
pattern cannot decide, so the service does not refuse: it *flags* text that looks like a
personal identifier — a passport or identity document number, a Kazakh ИИН or Belarusian
identification number, a date of birth — and returns the findings as warnings (in the
API answer and ``migdocs validate``) so that the sender's officer sees them.

The values found are masked in the messages: a warning must not repeat what it warns of.
"""

from __future__ import annotations

import re

from lxml import etree

from service.errors import Violation
from service.pipeline.xmlinput import element_path

_SKIPPED = frozenset(
    {
        "header",
        "person",
        "legalEntity",
        "inReplyTo",
        "request",
        "questionedDocument",
        "documents",
    }
)
"""Structured blocks: personal data in ``person`` are expected, the rest are no free text."""

_DATE = r"\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}"
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?<![\w-])[A-ZА-ЯЁ]{1,2} ?\d{7,9}(?![\w-])"),
        "a passport or identity document number",
    ),
    (
        re.compile(r"(?<![\w-])\d{7}[A-Z]\d{3}[A-Z]{2}\d(?![\w-])"),
        "a Belarusian personal identification number",
    ),
    (re.compile(r"(?<![\w.-])\d{12}(?![\w-])"), "an individual identification number (ИИН)"),
    (
        re.compile(
            rf"(?:дат\w* рождения|рожд(?:ения|\.)|родил(?:ся|ась)|г\. ?р\.)\D{{0,20}}(?:{_DATE})",
            re.IGNORECASE,
        ),
        "a date of birth",
    ),
    (
        re.compile(rf"(?:{_DATE}|\b\d{{4}})\s*(?:г\. ?р\.|года рождения|г\. рождения)", re.I),
        "a date of birth",
    ),
)


def _mask(value: str) -> str:
    return value[:2] + "…" if len(value) > 2 else "…"


def _free_text(root: etree._Element) -> list[etree._Element]:
    found = []
    stack = [root]
    while stack:
        elem = stack.pop()
        for child in elem:
            if not isinstance(child.tag, str) or etree.QName(child).localname in _SKIPPED:
                continue
            if child.text and child.text.strip():
                found.append(child)
            stack.append(child)
    return sorted(found, key=lambda e: e.sourceline or 0)


def warnings(root: etree._Element) -> tuple[Violation, ...]:
    """One warning per element and kind of identifier that looks like personal data."""
    found: list[Violation] = []
    for elem in _free_text(root):
        text = elem.text or ""
        seen: set[str] = set()
        for pattern, what in PATTERNS:
            match = pattern.search(text)
            if match is None or what in seen:
                continue
            seen.add(what)
            found.append(
                Violation(
                    elem.sourceline,
                    element_path(elem),
                    f"free text looks like it carries {what} («{_mask(match.group(0))}»): "
                    "personal data go only into <person> blocks, and only those of Art. 6",
                )
            )
    return tuple(found)
