"""References between documents checked against what this service holds (Art. 9.5, 10, 11).

A document may name other documents by «№ … от …»: the request a reply answers
(``inReplyTo``), the request of the case a requesting side's answer concerns
(``request``), the questioned document of an authenticity confirmation request, the
documents listed in a third-party consent request, the consent request a consent answers.
Each reference is checked when this service holds the document or ought to:

* **held** — a document with that registration number sent or received by the sender of
  the new document: its date must be one the letter carries — the registration date
  printed next to its number (in the sender's local zone, or UTC), or the upstream date
  printed beneath it; a reference that must be of a given type (a consent answers a consent
  request) must be of that type and go between the same two authorities;
* **not held** — refused (``422``, with the XPath of the number) when the reference must
  be held (every ``inReplyTo`` and ``request``), or when its number is a registration
  number of the sender or recipient (``KZ-MVD-2026-000001``): those documents pass through
  this service.  A number of another form (a paper letter) is not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import InconsistentDocument, Violation
from service.pipeline.document import Document
from service.pipeline.vocabulary import AUTHORITIES
from service.pipeline.xmlinput import NAMESPACE, element_path
from service.store.tables import StoredDocument
from signing.appearance import PARTY_TIMEZONES

REGISTRATION_NUMBER = re.compile(r"(?P<authority>[A-Z]{2}-[A-Z]+)-[0-9]{4}-[0-9]{6}")

INCOMING = "incoming"
"""The document named was sent by this document's recipient to its sender."""
OUTGOING = "outgoing"
"""The document named was sent by this document's sender to its recipient."""


@dataclass(frozen=True)
class Cited:
    """One reference of a document and what it must name."""

    elem: etree._Element
    """The reference element (``inReplyTo``, ``request``, ``document``, …)."""
    types: frozenset[str] | None = None
    """Document types it may name; ``None``: any."""
    direction: str | None = None
    """:data:`INCOMING`, :data:`OUTGOING`, or ``None`` (not checked here)."""
    required: bool = False
    """Must be held whatever the form of its number."""


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


_REPLY_TYPES = frozenset(
    {
        "response",
        "refusal-notice",
        "additional-information-request",
        "delay-notice",
        "postponement-notice",
        "confidentiality-notice",
    }
)
_ANSWERED = {
    "additional-information": "additional-information-request",
    "conditions-decision": "postponement-notice",
    "confidentiality-decision": "confidentiality-notice",
    "authenticity-confirmation": "authenticity-confirmation-request",
    "third-party-consent": "third-party-consent-request",
}
_REQUEST = frozenset({"request"})


def cited(doc: Document, root: etree._Element) -> list[Cited]:
    """Every reference ``doc`` makes, in document order."""
    found: list[Cited] = []
    kind = doc.document_type
    for elem in root:
        if not isinstance(elem.tag, str):
            continue
        name = etree.QName(elem).localname
        if name == "inReplyTo" and kind in _REPLY_TYPES:
            # Type and direction are the case's rules (403 / 422 in service.domain.cases).
            found.append(Cited(elem, _REQUEST, required=True))
        elif name == "inReplyTo":
            found.append(Cited(elem, frozenset({_ANSWERED[kind]}), INCOMING, required=True))
        elif name == "request":
            found.append(Cited(elem, _REQUEST, OUTGOING, required=True))
        elif name == "questionedDocument":
            found.append(Cited(elem))
        elif name == "documents":
            found.extend(Cited(e) for e in elem.iterfind(_q("document")))
    return found


def registration_date(row: StoredDocument) -> date:
    """The date printed next to the registration number: signing, in the sender's zone."""
    authority = AUTHORITIES.get(row.sender)
    zone = PARTY_TIMEZONES.get(authority.country, "UTC") if authority else "UTC"
    return row.signed_at.astimezone(ZoneInfo(zone)).date()


def letter_dates(row: StoredDocument) -> set[date]:
    """The dates a stored letter carries: registration date (local and UTC), upstream date."""
    return {
        row.signed_at.astimezone(UTC).date(),
        registration_date(row),
        date.fromisoformat(row.document_date[:10]),
    }


def _held(session: Session, number: str, by: str) -> StoredDocument | None:
    """The stored document ``number`` if authority ``by`` sent or received it."""
    row = session.execute(
        select(StoredDocument).where(StoredDocument.registration_number == number)
    ).scalar_one_or_none()
    if row is None or by not in (row.sender, row.recipient):
        return None
    return row


def _problem(doc: Document, ref: Cited, row: StoredDocument | None, number: str) -> str | None:
    header = doc.header
    wanted = " or ".join(sorted(ref.types)) if ref.types else "document"
    if row is None:
        match = REGISTRATION_NUMBER.fullmatch(number)
        ours = match is not None and match["authority"] in (header.sender, header.recipient)
        if ref.required or ours:
            return f"no {wanted} {number} sent or received by {header.sender} in this service"
        return None
    if ref.types is not None and row.document_type not in ref.types:
        return f"{number} is a {row.document_type}, not a {wanted}"
    if ref.direction == INCOMING and (row.sender, row.recipient) != (
        header.recipient,
        header.sender,
    ):
        return f"{number} is not a document of {header.recipient} to {header.sender}"
    if ref.direction == OUTGOING and (row.sender, row.recipient) != (
        header.sender,
        header.recipient,
    ):
        return f"{number} is not a document of {header.sender} to {header.recipient}"
    return None


def violations(session: Session, doc: Document, root: etree._Element) -> list[Violation]:
    """Every reference of ``doc`` that names an unknown document or misstates its date."""
    problems: list[Violation] = []
    for ref in cited(doc, root):
        number_elem = ref.elem.find(_q("registrationNumber"))
        date_elem = ref.elem.find(_q("date"))
        assert number_elem is not None and date_elem is not None  # schema-valid
        number = (number_elem.text or "").strip()
        row = _held(session, number, doc.header.sender)
        problem = _problem(doc, ref, row, number)
        if problem is not None:
            problems.append(Violation(number_elem.sourceline, element_path(number_elem), problem))
            continue
        if row is None:
            continue
        stated = date.fromisoformat((date_elem.text or "").strip()[:10])
        dates = letter_dates(row)
        if stated not in dates:
            problems.append(
                Violation(
                    date_elem.sourceline,
                    element_path(date_elem),
                    f"{number} was registered on {registration_date(row)} (sender's document "
                    f"date {row.document_date[:10]}), not on {stated}",
                )
            )
    return problems


def check(session: Session, doc: Document, root: etree._Element) -> None:
    """Raise :class:`InconsistentDocument` (``422``) listing every bad reference."""
    problems = violations(session, doc, root)
    if problems:
        count = len(problems)
        raise InconsistentDocument(
            f"document refers to documents this service does not hold as stated "
            f"({count} problem{'s' if count > 1 else ''})",
            tuple(problems),
        )
