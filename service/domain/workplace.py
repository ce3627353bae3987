"""What the officers' pages need beyond the API's functions: every case of an authority with
filters and its deadline order, the actions a case allows now, a pre-filled reply, and the
transfers of a document.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.domain import cases, search
from service.domain.cases import CLOSED, CaseView
from service.paths import SAMPLES_DIR
from service.pipeline.document import Document
from service.pipeline.rendering import Renderer
from service.pipeline.xmlinput import NAMESPACE
from service.store.db import Database
from service.store.tables import Case, StoredDocument, Transfer
from signing.registry import Registry

INCOMING = "incoming"
"""Cases the authority was asked in (it answers)."""
OUTGOING = "outgoing"
"""Cases the authority asked in."""
OVERDUE = "overdue"
DUE_SOON = "due-soon"


@dataclass(frozen=True)
class CaseQuery:
    status: str | None = None
    direction: str | None = None
    counterpart: str | None = None
    attention: str | None = None
    """``overdue`` or ``due-soon`` (which includes the overdue ones)."""
    text: str = ""


def deadline_order(v: CaseView) -> tuple[int, date, str]:
    """Open cases first, earliest deadline first; closed cases after them, latest first."""
    if v.closed:
        return (1, date.max - (v.deadline - date.min), v.case.request_number)
    return (0, v.deadline, v.case.request_number)


def list_cases(database: Database, authority: str, query: CaseQuery) -> list[CaseView]:
    """Every case of ``authority`` matching ``query``, in :func:`deadline_order`."""
    stmt = (
        select(Case, StoredDocument)
        .join(StoredDocument, StoredDocument.id == Case.request_id)
        .where(or_(Case.requesting == authority, Case.requested == authority))
    )
    if query.status:
        stmt = stmt.where(Case.status == query.status)
    if query.direction == INCOMING:
        stmt = stmt.where(Case.requested == authority)
    elif query.direction == OUTGOING:
        stmt = stmt.where(Case.requesting == authority)
    if query.counterpart:
        other = query.counterpart
        stmt = stmt.where(or_(Case.requesting == other, Case.requested == other))
    if query.attention:
        stmt = stmt.where(Case.status.not_in(CLOSED))
    with database.reading() as session:
        if query.text.strip():
            stmt = stmt.where(Case.id.in_(search.cases_matching(session, query.text)))
        rows = session.execute(stmt).all()
    views = [cases.view(case, request) for case, request in rows]
    if query.attention == OVERDUE:
        views = [v for v in views if v.overdue]
    elif query.attention == DUE_SOON:
        views = [v for v in views if v.overdue or v.due_soon]
    return sorted(views, key=deadline_order)


def case_view(session: Session, case: Case) -> CaseView:
    request = session.get(StoredDocument, case.request_id)
    assert request is not None
    return cases.view(case, request)


# ----- what a case allows now -----------------------------------------------------------------

REPLY_SAMPLES = {
    "response": "response-photo.xml",
    "additional-information-request": "additional-information-request-person.xml",
    "delay-notice": "delay-notice-expected-date.xml",
    "postponement-notice": "postponement-notice-postpone.xml",
    "confidentiality-notice": "confidentiality-notice-court.xml",
    "refusal-notice": "refusal-notice-partial.xml",
}
"""The sample each pre-filled reply starts from (its content is the officer's to edit)."""
FUTURE_DATES = {"delay-notice": ("m:expectedDate",)}
"""Dates a reply must set after its own date: pre-filled as the date + 30 days."""


def allowed_replies(v: CaseView, authority: str) -> list[str]:
    """The reply types ``authority`` may send in the case now (Art. 8–10, as
    :func:`service.domain.cases.plan` checks them): only the requested authority replies,
    nothing follows a full refusal, no refusal follows a full answer."""
    if authority != v.case.requested or v.case.status == cases.REFUSED:
        return []
    allowed = list(REPLY_SAMPLES)
    if v.case.status == cases.ANSWERED:
        allowed.remove("refusal-notice")
    return allowed


def _signatory(session: Session, authority: str) -> str:
    ids = Registry(session).signatory_ids(authority)
    return ids[0] if ids else f"{authority}-001"


def reply_template(database: Database, v: CaseView, reply_type: str, today: date) -> bytes:
    """A reply of ``reply_type`` to the case's request, header and reference filled in."""
    ns = {"m": NAMESPACE}
    root = etree.fromstring((SAMPLES_DIR / REPLY_SAMPLES[reply_type]).read_bytes())
    with database.reading() as session:
        signatory = _signatory(session, v.case.requested)
    values = {
        "m:header/m:documentId": str(uuid.uuid4()),
        "m:header/m:documentDate": today.isoformat(),
        "m:header/m:sender": v.case.requested,
        "m:header/m:recipient": v.case.requesting,
        "m:header/m:signatory": signatory,
        "m:inReplyTo/m:registrationNumber": v.case.request_number,
        "m:inReplyTo/m:date": v.request.document_date,
    }
    for path in FUTURE_DATES.get(reply_type, ()):
        values[path] = (today + timedelta(days=cases.DEADLINE_DAYS)).isoformat()
    for path, value in values.items():
        elem = root.find(path, ns)
        assert elem is not None, path
        elem.text = value
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return xml


# ----- transfers (Art. 11.3) ------------------------------------------------------------------


@dataclass(frozen=True)
class TransferLine:
    transfer: Transfer
    document: StoredDocument
    consent: StoredDocument


def transfers_of(session: Session, document_id: str | None, authority: str) -> list[TransferLine]:
    """Transfers recorded by ``authority`` (of one document, or all), newest first."""
    stmt = select(Transfer).where(Transfer.authority == authority)
    if document_id is not None:
        stmt = stmt.where(Transfer.document_id == document_id)
    lines = []
    for transfer in session.execute(stmt.order_by(Transfer.recorded_at.desc())).scalars():
        document = session.get(StoredDocument, transfer.document_id)
        consent = session.get(StoredDocument, transfer.consent_id)
        assert document is not None and consent is not None
        lines.append(TransferLine(transfer, document, consent))
    return lines


def now() -> datetime:
    return datetime.now(UTC)


# ----- preview before signing -----------------------------------------------------------------

PREVIEW_NUMBER = "[номер будет присвоен при подписании]"


def preview_pdf(renderer: Renderer, doc: Document, raw: bytes) -> bytes:
    """The document as it will look, unsigned, unnumbered and watermarked «ОБРАЗЕЦ»."""
    html = renderer.html(doc, PREVIEW_NUMBER, sample=True)
    return renderer.pdf(doc, html, raw).pdf
