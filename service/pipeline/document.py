"""Stage 2 of the pipeline: the typed document model (built by :mod:`service.pipeline.reading`).

The model is what templates see.  It holds parsed values (dates as :class:`datetime.date`,
photos as bytes) and the codes of closed lists; Russian wording comes from
:mod:`service.pipeline.vocabulary` at render time.  Checks that XSD 1.0 cannot express (sender and
recipient in different countries, photo bytes really JPEG/PNG, dates in order) run here and
raise :class:`~service.errors.InconsistentDocument` with line and path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Executor:
    """The officer who prepared the document («Исп.» line)."""

    name: str
    phone: str | None = None


@dataclass(frozen=True)
class Header:
    document_id: str
    document_date: dt.date
    sender: str
    recipient: str
    signatory: str
    confidentiality: str
    executor: Executor | None = None


@dataclass(frozen=True)
class RequestReference:
    registration_number: str
    date: dt.date


@dataclass(frozen=True)
class FullName:
    surname: str
    given_name: str
    patronymic: str | None

    def __str__(self) -> str:
        return " ".join(p for p in (self.surname, self.given_name, self.patronymic) if p)


@dataclass(frozen=True)
class IdentityDocument:
    kind: str
    series: str | None
    number: str
    issue_date: dt.date
    issuer: str


@dataclass(frozen=True)
class LiabilityRecord:
    decision_date: dt.date
    legal_provision: str
    decision: str
    decided_by: str | None


@dataclass(frozen=True)
class Residence:
    country: str
    address: str
    since: dt.date | None


@dataclass(frozen=True)
class ResidencePermit:
    kind: str
    number: str
    issue_date: dt.date
    valid_until: dt.date | None
    issuer: str


@dataclass(frozen=True)
class TravelRestriction:
    kind: str
    country: str
    decision_date: dt.date
    valid_until: dt.date | None
    decided_by: str
    grounds: str | None


@dataclass(frozen=True)
class BinaryContent:
    media_type: str
    data: bytes
    file_name: str | None = None


@dataclass(frozen=True)
class Person:
    """A person of one Art. 5 category with the Art. 6 data the document carries."""

    number: int
    """1-based position in the document, used for photo and attachment names."""
    category: str
    name_cyrillic: FullName
    name_latin: FullName
    sex: str | None = None
    birth_date: dt.date | None = None
    birth_place: str | None = None
    citizenship: str | None = None
    previous_citizenship: str | None = None
    """Only for category ``citizenship`` (Art. 5, 3)."""
    identity_documents: tuple[IdentityDocument, ...] = ()
    administrative_liability: tuple[LiabilityRecord, ...] = ()
    criminal_liability: tuple[LiabilityRecord, ...] = ()
    residences: tuple[Residence, ...] = ()
    residence_permits: tuple[ResidencePermit, ...] = ()
    travel_restrictions: tuple[TravelRestriction, ...] = ()
    photo: BinaryContent | None = None
    fingerprint_card: BinaryContent | None = None


@dataclass(frozen=True)
class LegalEntity:
    """A legal entity involved in organising illegal migration (Art. 4)."""

    name: str
    registration_number: str | None
    country: str
    address: str | None


@dataclass(frozen=True)
class Document:
    """Fields shared by every document type."""

    document_type: str
    header: Header
    persons: tuple[Person, ...] = ()


@dataclass(frozen=True)
class Request(Document):
    topic: str = ""
    summary: str = ""
    purpose: str = ""
    justification: str = ""
    requested_data: tuple[str, ...] = ()
    other_information: str | None = None
    legal_entities: tuple[LegalEntity, ...] = ()


@dataclass(frozen=True)
class Response(Document):
    in_reply_to: RequestReference | None = None
    outcome: str = ""
    narrative: str = ""
    legal_entities: tuple[LegalEntity, ...] = ()


@dataclass(frozen=True)
class RefusalNotice(Document):
    in_reply_to: RequestReference | None = None
    scope: str = ""
    grounds: tuple[str, ...] = field(default=())
    reasons: str = ""


@dataclass(frozen=True)
class AdditionalInformationRequest(Document):
    """Art. 10.1: the requested party asks for information it needs to execute a request."""

    in_reply_to: RequestReference | None = None
    requested_information: str = ""
    justification: str = ""


@dataclass(frozen=True)
class DelayNotice(Document):
    """Art. 10.1: circumstances preventing or substantially delaying execution."""

    in_reply_to: RequestReference | None = None
    circumstance: str = ""
    reason: str = ""
    expected_date: dt.date | None = None


@dataclass(frozen=True)
class PostponementNotice(Document):
    """Art. 10.2: execution postponed, or made subject to conditions."""

    in_reply_to: RequestReference | None = None
    kind: str = ""
    ground: str = ""
    reasons: str = ""
    conditions: str | None = None
    postponed_until: dt.date | None = None


@dataclass(frozen=True)
class AuthenticityConfirmationRequest(Document):
    """Art. 9.5: doubts about the authenticity or content of a received document."""

    questioned_document: RequestReference | None = None
    doubt: str = ""
    reasons: str = ""

    @property
    def in_reply_to(self) -> RequestReference | None:
        """The letter is about the questioned document: «На № … от …» names it."""
        return self.questioned_document


@dataclass(frozen=True)
class AuthenticityConfirmation(Document):
    """Art. 9.5: the answer to an authenticity confirmation request."""

    in_reply_to: RequestReference | None = None
    questioned_document: RequestReference | None = None
    confirmed: bool = False
    explanation: str = ""


@dataclass(frozen=True)
class UnsolicitedInformation(Document):
    """Art. 8: information sent without a request."""

    topic: str = ""
    summary: str = ""
    information: str = ""
    legal_entities: tuple[LegalEntity, ...] = ()


@dataclass(frozen=True)
class ConfidentialityNotice(Document):
    """Art. 11.1: the request cannot be executed while keeping it confidential."""

    in_reply_to: RequestReference | None = None
    circumstances: str = ""
    disclosure: str | None = None
    reply_by: dt.date | None = None


@dataclass(frozen=True)
class ThirdPartyConsentRequest(Document):
    """Art. 11.3: consent asked to pass received information to a third party."""

    documents: tuple[RequestReference, ...] = ()
    third_party: str = ""
    third_party_country: str | None = None
    information: str = ""
    purpose: str = ""


@dataclass(frozen=True)
class ThirdPartyConsent(Document):
    """Art. 11.3: the consent, or its denial."""

    in_reply_to: RequestReference | None = None
    third_party: str = ""
    decision: str = ""
    conditions: str | None = None
    reasons: str | None = None


@dataclass(frozen=True)
class AdditionalInformation(Document):
    """Art. 10.1: the requesting party supplies the additional information asked for."""

    in_reply_to: RequestReference | None = None
    """The additional-information request answered."""
    request: RequestReference | None = None
    information: str = ""


@dataclass(frozen=True)
class ConditionsDecision(Document):
    """Art. 10.2: the requesting party accepts or declines the conditions of execution."""

    in_reply_to: RequestReference | None = None
    """The postponement notice (kind ``conditions``) answered."""
    request: RequestReference | None = None
    decision: str = ""
    comments: str | None = None


@dataclass(frozen=True)
class ConfidentialityDecision(Document):
    """Art. 11.1: after a confidentiality notice, execute the request or not."""

    in_reply_to: RequestReference | None = None
    """The confidentiality notice answered."""
    request: RequestReference | None = None
    decision: str = ""
    comments: str | None = None


@dataclass(frozen=True)
class RequestWithdrawal(Document):
    """The requesting party withdraws its request."""

    request: RequestReference | None = None
    reasons: str = ""


DOCUMENT_CLASSES: dict[str, type[Document]] = {
    "request": Request,
    "response": Response,
    "refusal-notice": RefusalNotice,
    "additional-information-request": AdditionalInformationRequest,
    "delay-notice": DelayNotice,
    "postponement-notice": PostponementNotice,
    "authenticity-confirmation-request": AuthenticityConfirmationRequest,
    "authenticity-confirmation": AuthenticityConfirmation,
    "unsolicited-information": UnsolicitedInformation,
    "confidentiality-notice": ConfidentialityNotice,
    "third-party-consent-request": ThirdPartyConsentRequest,
    "third-party-consent": ThirdPartyConsent,
    "additional-information": AdditionalInformation,
    "conditions-decision": ConditionsDecision,
    "confidentiality-decision": ConfidentialityDecision,
    "request-withdrawal": RequestWithdrawal,
}
"""Document type code → model class (one per schema root)."""
