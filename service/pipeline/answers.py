"""Stage 2 for the requesting side's answers in its own case (Art. 10.1, 10.2, 11.1) and its
withdrawal of a request: schema-valid XML → typed document.

Each answer names the letter it answers (``inReplyTo``) and the request of the case
(``request``); the letter answered cannot be older than the request.  Whether both exist,
belong to one case and go the right way is checked against the stored documents by
:mod:`service.domain.cases`.
"""

from __future__ import annotations

from lxml import etree

from service.errors import Violation
from service.pipeline.document import (
    AdditionalInformation,
    ConditionsDecision,
    ConfidentialityDecision,
    Document,
    Header,
    Person,
    RequestReference,
    RequestWithdrawal,
)
from service.pipeline.fields import child, opt_text, reference, text
from service.pipeline.xmlinput import element_path

ANSWER_TYPES = (
    "additional-information",
    "conditions-decision",
    "confidentiality-decision",
    "request-withdrawal",
)
"""Document types only the requesting authority of a case sends, naming its ``request``."""

_ANSWERED = {
    "additional-information": "additional-information request",
    "conditions-decision": "postponement notice",
    "confidentiality-decision": "confidentiality notice",
}


def _answered(
    root: etree._Element,
    header: Header,
    request: RequestReference,
    problems: list[Violation],
    what: str,
) -> RequestReference:
    """The letter answered: not later than this document, not earlier than the request."""
    answered = reference(root, header, problems, "inReplyTo", what)
    if answered.date < request.date:
        elem = child(root, "inReplyTo")
        assert elem is not None
        date_elem = child(elem, "date")
        assert date_elem is not None
        problems.append(
            Violation(
                date_elem.sourceline,
                element_path(date_elem),
                f"the {what} date {answered.date} is earlier than the date {request.date} of "
                "the request it concerns",
            )
        )
    return answered


def build_answer(
    kind: str,
    root: etree._Element,
    header: Header,
    persons: tuple[Person, ...],
    problems: list[Violation],
) -> Document:
    """The typed answer of type ``kind`` (one of :data:`ANSWER_TYPES`)."""
    request = reference(root, header, problems, "request", "request")
    if kind == "request-withdrawal":
        return RequestWithdrawal(
            document_type=kind, header=header, request=request, reasons=text(root, "reasons")
        )
    answered = _answered(root, header, request, problems, _ANSWERED[kind])
    if kind == "additional-information":
        return AdditionalInformation(
            document_type=kind,
            header=header,
            persons=persons,
            in_reply_to=answered,
            request=request,
            information=text(root, "information"),
        )
    cls = ConditionsDecision if kind == "conditions-decision" else ConfidentialityDecision
    return cls(
        document_type=kind,
        header=header,
        in_reply_to=answered,
        request=request,
        decision=text(root, "decision"),
        comments=opt_text(root, "comments"),
    )
