"""Cases (Art. 8–10): a request and every document that follows it.

A ``request`` opens a case between its two authorities: the *requesting* one (its sender)
and the *requested* one (its recipient).  Later documents join the case by naming the
request's registration number:

- **replies** — ``response``, ``refusal-notice``, ``additional-information-request``,
  ``delay-notice``, ``postponement-notice``, ``confidentiality-notice`` — name it in
  ``inReplyTo``.  They must reply to a request registered in this service (``422``
  otherwise), and only the requested authority writes them, to the requesting one
  (another sender: ``403``; another recipient: ``422``);
- **related documents** — ``authenticity-confirmation-request`` (its questioned document),
  ``authenticity-confirmation`` (its confirmation request or questioned document),
  ``third-party-consent-request`` (the documents it covers), ``third-party-consent`` (its
  consent request) — join the case of the document they name when they travel between the
  case's two authorities; otherwise they belong to no case (not a case error: their
  references are still checked, see below);
- **the requesting side's answers** — ``additional-information`` (Art. 10.1),
  ``conditions-decision`` (Art. 10.2), ``confidentiality-decision`` (Art. 11.1),
  ``request-withdrawal`` — name the request in ``request`` and (but the withdrawal) the
  letter they answer in ``inReplyTo``: an additional-information request, a postponement
  notice of kind ``conditions``, a confidentiality notice of the case, not answered before.
  Only the requesting authority writes them, to the requested one (``403`` / ``422``);
- ``request`` opens a new case; ``unsolicited-information`` belongs to none.

Every reference («№ … от …») is also checked against the documents this service holds,
date included (:mod:`service.domain.references`).

Status follows the documents (checks run before a registration number is taken, so a
refused document consumes nothing):

=================================  ==========================================
document                           status afterwards
=================================  ==========================================
request                            ``open``
additional-information-request     ``awaiting-additional-information``
any document of the requesting     ``open`` again (it is taken as the answer to
authority while awaiting           the additional-information request)
postponement-notice                ``postponed``
delay-notice, confidentiality-     unchanged
notice, related documents
response (outcome full)            ``answered`` (``partially-refused`` stays)
response (outcome partial)         ``partially-refused``
refusal-notice (scope partial)     ``partially-refused``
refusal-notice (scope full)        ``refused``
additional-information             ``open`` (from ``awaiting-…``; else unchanged)
conditions-decision accepted       ``open`` (from ``postponed``; else unchanged)
conditions-decision declined       ``withdrawn``
confidentiality-decision proceed   unchanged
confidentiality-decision withdraw  ``withdrawn``
request-withdrawal                 ``withdrawn``
=================================  ==========================================

Refused with ``422``: any reply or answer after a full refusal or a withdrawal (the case
is closed); a refusal after a full response; a withdrawal or decision in a closed case.
A further ``response`` after a response is accepted (supplementary results) and keeps the
status.

The deadline (Art. 10.3) is the receipt of the request — the UTC date it was stored
here — plus 30 calendar days.  A case is *overdue* when it is not closed (answered,
partially refused, refused, withdrawn) and today is after the deadline; *due soon* when it is not
closed, not overdue and at most 5 days are left.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.domain import references
from service.domain.auth import Principal
from service.errors import Forbidden, InconsistentDocument, NotFound, Violation
from service.pipeline.answers import ANSWER_TYPES
from service.pipeline.document import (
    AuthenticityConfirmation,
    AuthenticityConfirmationRequest,
    ConditionsDecision,
    ConfidentialityDecision,
    Document,
    PostponementNotice,
    RefusalNotice,
    Response,
    ThirdPartyConsent,
    ThirdPartyConsentRequest,
)
from service.pipeline.xmlinput import NAMESPACE, element_path
from service.store import audit
from service.store.db import Database
from service.store.rows import insert_row
from service.store.tables import Case, CaseDocument, StoredDocument

DEADLINE_DAYS = 30
DUE_SOON_DAYS = 5

OPEN = "open"
AWAITING = "awaiting-additional-information"
POSTPONED = "postponed"
ANSWERED = "answered"
PARTIALLY_REFUSED = "partially-refused"
REFUSED = "refused"
WITHDRAWN = "withdrawn"
STATUSES = (OPEN, AWAITING, POSTPONED, ANSWERED, PARTIALLY_REFUSED, REFUSED, WITHDRAWN)
CLOSED = (ANSWERED, PARTIALLY_REFUSED, REFUSED, WITHDRAWN)

REPLY_TYPES = (
    "response",
    "refusal-notice",
    "additional-information-request",
    "delay-notice",
    "postponement-notice",
    "confidentiality-notice",
)

STATUS_TITLES = {
    OPEN: "исполняется",
    AWAITING: "ожидается дополнительная информация",
    POSTPONED: "исполнение отсрочено",
    ANSWERED: "исполнен",
    PARTIALLY_REFUSED: "частично отказано",
    REFUSED: "отказано",
    WITHDRAWN: "запрос отозван",
}

Loader = Callable[[StoredDocument], Document]
"""Reads a stored document back into its typed model (from its stored XML)."""


# ----- joining a case when a document is created --------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What storing a document will do to the cases; decided before a number is taken."""

    case: Case | None
    """The existing case the document joins (locked); ``None`` for a new request."""
    opens: bool
    status: str | None
    """The case's status afterwards."""


def _reply_violation(root: etree._Element, message: str) -> Violation:
    elem = root.find(f"{{{NAMESPACE}}}inReplyTo/{{{NAMESPACE}}}registrationNumber")
    if elem is None:  # pragma: no cover - the schema requires it on every reply
        return Violation(None, element_path(root), message)
    return Violation(elem.sourceline, element_path(elem), message)


def _locked_case_of(session: Session, document_id: str) -> Case | None:
    case_id = session.execute(
        select(CaseDocument.case_id).where(CaseDocument.document_id == document_id)
    ).scalar_one_or_none()
    if case_id is None:
        return None
    return session.execute(select(Case).where(Case.id == case_id).with_for_update()).scalar_one()


def by_number(session: Session, number: str) -> StoredDocument | None:
    return session.execute(
        select(StoredDocument).where(StoredDocument.registration_number == number)
    ).scalar_one_or_none()


def _related_numbers(doc: Document) -> list[str]:
    match doc:
        case AuthenticityConfirmationRequest(questioned_document=ref) if ref is not None:
            return [ref.registration_number]
        case AuthenticityConfirmation(in_reply_to=reply, questioned_document=questioned):
            return [r.registration_number for r in (reply, questioned) if r is not None]
        case ThirdPartyConsentRequest(documents=refs):
            return [r.registration_number for r in refs]
        case ThirdPartyConsent(in_reply_to=ref) if ref is not None:
            return [ref.registration_number]
    return []


def _next_status(case: Case, doc: Document) -> str:
    status = case.status
    kind = doc.document_type
    closed_by_refusal = f"case {case.request_number} was closed by a full refusal"
    if kind in (*REPLY_TYPES, *ANSWER_TYPES) and status == WITHDRAWN:
        raise InconsistentDocument(
            f"request {case.request_number} was withdrawn: no {kind} can follow it"
        )
    if kind in REPLY_TYPES and status == REFUSED:
        raise InconsistentDocument(f"{closed_by_refusal}: no {kind} can follow it")
    if kind == "refusal-notice" and status == ANSWERED:
        raise InconsistentDocument(
            f"case {case.request_number} was answered in full: it cannot be refused any more"
        )
    if kind in ANSWER_TYPES:
        return _answer_status(case, doc)
    if doc.header.sender == case.requesting:
        return OPEN if status == AWAITING else status
    match doc:
        case Response(outcome="partial"):
            return PARTIALLY_REFUSED
        case Response():
            return status if status == PARTIALLY_REFUSED else ANSWERED
        case RefusalNotice(scope="full"):
            return REFUSED
        case RefusalNotice():
            return PARTIALLY_REFUSED
    if status in CLOSED:
        return status
    if kind == "additional-information-request":
        return AWAITING
    if kind == "postponement-notice":
        return POSTPONED
    return status


def _answer_status(case: Case, doc: Document) -> str:
    """The requesting side's answers (see the table above)."""
    status = case.status
    kind = doc.document_type
    if kind == "additional-information":
        if status == REFUSED:
            raise InconsistentDocument(
                f"case {case.request_number} was closed by a full refusal: no additional "
                "information can follow it"
            )
        return OPEN if status == AWAITING else status
    if status in CLOSED:
        raise InconsistentDocument(
            f"case {case.request_number} is closed ({STATUS_TITLES[status]}): "
            f"no {kind} can follow it"
        )
    match doc:
        case ConditionsDecision(decision="accepted"):
            return OPEN if status == POSTPONED else status
        case ConfidentialityDecision(decision="proceed"):
            return status
    return WITHDRAWN


def _violation_at(root: etree._Element, path: str, message: str) -> Violation:
    elem = root.find("/".join(f"{{{NAMESPACE}}}{part}" for part in path.split("/")))
    if elem is None:  # pragma: no cover - the schema requires it
        return Violation(None, element_path(root), message)
    return Violation(elem.sourceline, element_path(elem), message)


def _answered_before(
    session: Session, case: Case, doc: Document, number: str, load: Loader | None
) -> bool:
    """Whether a document of ``doc``'s type in ``case`` already answers letter ``number``."""
    if load is None:
        return False
    rows = session.execute(
        select(StoredDocument)
        .join(CaseDocument, CaseDocument.document_id == StoredDocument.id)
        .where(
            CaseDocument.case_id == case.id,
            StoredDocument.document_type == doc.document_type,
            StoredDocument.destroyed_at.is_(None),
        )
    ).scalars()
    for row in rows:
        earlier = getattr(load(row), "in_reply_to", None)
        if earlier is not None and earlier.registration_number == number:
            return True
    return False


def _plan_answer(
    session: Session, doc: Document, root: etree._Element, load: Loader | None
) -> Plan:
    """A requesting side's answer: its request's case, its letter answered in that case."""
    header = doc.header
    kind = doc.document_type
    request = getattr(doc, "request", None)
    assert request is not None
    number = request.registration_number
    target = by_number(session, number)
    if target is None or target.document_type != "request":
        what = "no request" if target is None else f"{number} is a {target.document_type}"
        raise InconsistentDocument(
            f"{kind} concerns an unknown request {number}",
            (
                _violation_at(
                    root, "request/registrationNumber", f"{what} registered in this service"
                ),
            ),
        )
    case = _locked_case_of(session, target.id)
    if case is None:  # pragma: no cover - every stored request opens a case
        raise InconsistentDocument(f"request {number} has no case")
    if header.sender != case.requesting:
        raise Forbidden(
            f"only {case.requesting}, the requesting authority, sends a {kind} in case "
            f"{number}; not {header.sender}"
        )
    if header.recipient != case.requested:
        raise InconsistentDocument(
            f"a {kind} in case {number} goes to the requested authority {case.requested}",
            (
                Violation(
                    None,
                    f"{element_path(root)}/header/recipient",
                    f"{header.recipient} is not {case.requested}",
                ),
            ),
        )
    answered = getattr(doc, "in_reply_to", None)
    if answered is not None:
        problem = _answered_problem(session, case, doc, answered.registration_number, load)
        if problem is not None:
            raise InconsistentDocument(
                f"{kind} does not answer a letter of case {number}: {problem}",
                (_violation_at(root, "inReplyTo/registrationNumber", problem),),
            )
    return Plan(case, opens=False, status=_next_status(case, doc))


def _answered_problem(
    session: Session, case: Case, doc: Document, number: str, load: Loader | None
) -> str | None:
    expected = {
        "additional-information": "additional-information-request",
        "conditions-decision": "postponement-notice",
        "confidentiality-decision": "confidentiality-notice",
    }[doc.document_type]
    row = by_number(session, number)
    in_case = (
        row is not None
        and session.execute(
            select(CaseDocument.case_id).where(
                CaseDocument.document_id == row.id, CaseDocument.case_id == case.id
            )
        ).scalar_one_or_none()
    )
    if row is None or not in_case or row.document_type != expected:
        return f"no {expected} {number} in case {case.request_number}"
    if doc.document_type == "conditions-decision" and load is not None:
        notice = load(row)
        if not isinstance(notice, PostponementNotice) or notice.kind != "conditions":
            return f"{number} postpones the execution; it sets no conditions to accept"
    if doc.document_type != "additional-information" and _answered_before(
        session, case, doc, number, load
    ):
        return f"{number} was answered already"
    return None


def plan(session: Session, doc: Document, root: etree._Element, load: Loader | None = None) -> Plan:
    """Check ``doc`` against the cases and its references against the documents held;
    raise if it cannot be stored. Locks the case row.

    ``load`` reads a stored document back (to see the kind of a postponement notice and
    whether a notice was answered); without it those two checks are skipped.
    """
    planned = _plan(session, doc, root, load)
    references.check(session, doc, root)
    return planned


def _plan(session: Session, doc: Document, root: etree._Element, load: Loader | None) -> Plan:
    header = doc.header
    if doc.document_type == "request":
        return Plan(None, opens=True, status=OPEN)
    if doc.document_type in REPLY_TYPES:
        reference = getattr(doc, "in_reply_to", None)
        assert reference is not None
        number = reference.registration_number
        target = by_number(session, number)
        if target is None or target.document_type != "request":
            what = "no request" if target is None else f"{number} is a {target.document_type}"
            raise InconsistentDocument(
                f"{doc.document_type} replies to an unknown request {number}",
                (_reply_violation(root, f"{what} registered in this service"),),
            )
        case = _locked_case_of(session, target.id)
        if case is None:  # pragma: no cover - every stored request opens a case
            raise InconsistentDocument(f"request {number} has no case")
        if header.sender != case.requested:
            raise Forbidden(
                f"only {case.requested}, the requested authority, replies in case {number}; "
                f"not {header.sender}",
                (
                    Violation(
                        None,
                        f"{element_path(root)}/header/sender",
                        f"{header.sender} is not the requested authority {case.requested}",
                        "not-the-requested-authority",
                    ),
                ),
            )
        if header.recipient != case.requesting:
            raise InconsistentDocument(
                f"a reply in case {number} goes to the requesting authority {case.requesting}",
                (
                    Violation(
                        None,
                        f"{element_path(root)}/header/recipient",
                        f"{header.recipient} is not {case.requesting}",
                    ),
                ),
            )
        return Plan(case, opens=False, status=_next_status(case, doc))
    if doc.document_type in ANSWER_TYPES:
        return _plan_answer(session, doc, root, load)
    for number in _related_numbers(doc):
        target = by_number(session, number)
        if target is None:
            continue
        case = _locked_case_of(session, target.id)
        if case is not None and {header.sender, header.recipient} == {
            case.requesting,
            case.requested,
        }:
            return Plan(case, opens=False, status=_next_status(case, doc))
    return Plan(None, opens=False, status=None)


def attach(session: Session, planned: Plan, stored: StoredDocument) -> Case | None:
    """Open the case of a new request, or add ``stored`` to its case (``stored`` is in the
    database already).  New rows are written at once by Core (:mod:`service.store.rows`);
    a new case is returned transient, an existing one is updated through the session."""
    if planned.opens:
        case = Case(
            id=str(uuid.uuid4()),
            request_id=stored.id,
            request_number=stored.registration_number,
            requesting=stored.sender,
            requested=stored.recipient,
            status=OPEN,
            created_at=stored.created_at,
            updated_at=stored.created_at,
        )
        insert_row(session, case)
    elif planned.case is not None:
        case = planned.case
        assert planned.status is not None
        case.status = planned.status
        case.updated_at = stored.created_at
    else:
        return None
    insert_row(session, CaseDocument(document_id=stored.id, case_id=case.id))
    return case


# ----- reading cases ----------------------------------------------------------------------


def deadline_of(case: Case) -> date:
    return case.created_at.astimezone(UTC).date() + timedelta(days=DEADLINE_DAYS)


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class CaseView:
    case: Case
    request: StoredDocument
    deadline: date
    days_left: int
    overdue: bool
    due_soon: bool
    timeline: tuple[StoredDocument, ...] = ()

    @property
    def closed(self) -> bool:
        return self.case.status in CLOSED

    def counterpart(self, authority: str) -> str:
        return self.case.requested if authority == self.case.requesting else self.case.requesting


def view(case: Case, request: StoredDocument, on: date | None = None) -> CaseView:
    on = on or today()
    deadline = deadline_of(case)
    days_left = (deadline - on).days
    open_ = case.status not in CLOSED
    return CaseView(
        case=case,
        request=request,
        deadline=deadline,
        days_left=days_left,
        overdue=open_ and days_left < 0,
        due_soon=open_ and 0 <= days_left <= DUE_SOON_DAYS,
    )


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    overdue: bool | None = None
    due_soon: bool | None = None


class CaseService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _visible(self, principal: Principal):  # type: ignore[no-untyped-def]
        return or_(Case.requesting == principal.authority, Case.requested == principal.authority)

    def list(
        self, principal: Principal, flt: CaseFilter, page: int, page_size: int
    ) -> tuple[list[CaseView], int]:
        """Visible cases, newest first; overdue/due-soon filters are computed in Python."""
        query = (
            select(Case, StoredDocument)
            .join(StoredDocument, StoredDocument.id == Case.request_id)
            .where(self._visible(principal))
        )
        if flt.status:
            query = query.where(Case.status == flt.status)
        if flt.overdue is not None or flt.due_soon:
            query = query.where(Case.status.not_in(CLOSED))
        with self.database.reading() as session:
            rows = session.execute(query.order_by(Case.created_at.desc(), Case.id)).all()
        views = [view(case, request) for case, request in rows]
        if flt.overdue is not None:
            views = [v for v in views if v.overdue is flt.overdue]
        if flt.due_soon:
            views = [v for v in views if v.due_soon or v.overdue]
            views.sort(key=lambda v: (v.deadline, v.case.request_number))
        start = (page - 1) * page_size
        return views[start : start + page_size], len(views)

    def get(
        self, case_id: str, principal: Principal, address: str, action: str = "case.read"
    ) -> CaseView:
        """One case with its timeline, audited; ``404`` to anyone but its two authorities."""
        try:
            uuid.UUID(case_id)
        except ValueError:
            raise NotFound(f"no case {case_id}") from None
        with self.database.transaction() as session:
            case = session.get(Case, case_id)
            if case is None or principal.authority not in (case.requesting, case.requested):
                raise NotFound(f"no case {case_id}")
            timeline = self.timeline(session, case.id)
            audit.record(
                session,
                actor=principal.actor,
                action=action,
                target=case.id,
                address=address,
                details={"request_number": case.request_number},
            )
            found = view(case, timeline[0])
            return CaseView(**{**found.__dict__, "timeline": tuple(timeline)})

    @staticmethod
    def timeline(session: Session, case_id: str) -> Sequence[StoredDocument]:
        return (
            session.execute(
                select(StoredDocument)
                .join(CaseDocument, CaseDocument.document_id == StoredDocument.id)
                .where(CaseDocument.case_id == case_id)
                .order_by(StoredDocument.created_at, StoredDocument.registration_number)
            )
            .scalars()
            .all()
        )

    def case_of(self, session: Session, document_id: str, principal: Principal) -> Case | None:
        case_id = session.execute(
            select(CaseDocument.case_id).where(CaseDocument.document_id == document_id)
        ).scalar_one_or_none()
        case = session.get(Case, case_id) if case_id else None
        if case is None or principal.authority not in (case.requesting, case.requested):
            return None
        return case


# ----- transfers to third parties (Art. 11.3) -----------------------------------------------
