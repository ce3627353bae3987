"""Stage 2 of the pipeline: schema-valid XML tree → typed document (:mod:`.document`).

Reads every field, decodes the images under the limits, and runs the checks XSD 1.0
cannot express (sender and recipient in different countries, photo bytes really
JPEG/PNG, dates in order, the Agreement's scope); every problem is collected and raised
as one :class:`~service.errors.InconsistentDocument` with line and path.
"""

from __future__ import annotations

import base64
import dataclasses

from lxml import etree

from service.errors import InconsistentDocument, LimitExceeded, Violation
from service.pipeline import images
from service.pipeline.answers import ANSWER_TYPES, build_answer
from service.pipeline.data_scope import scope_violations
from service.pipeline.document import (
    AdditionalInformationRequest,
    AuthenticityConfirmation,
    AuthenticityConfirmationRequest,
    BinaryContent,
    ConfidentialityNotice,
    DelayNotice,
    Document,
    Executor,
    FullName,
    Header,
    IdentityDocument,
    LegalEntity,
    LiabilityRecord,
    Person,
    PostponementNotice,
    RefusalNotice,
    Request,
    Residence,
    ResidencePermit,
    Response,
    ThirdPartyConsent,
    ThirdPartyConsentRequest,
    TravelRestriction,
    UnsolicitedInformation,
)
from service.pipeline.fields import all_of as _all
from service.pipeline.fields import child as _child
from service.pipeline.fields import date as _date
from service.pipeline.fields import not_before as _not_before
from service.pipeline.fields import opt_date as _opt_date
from service.pipeline.fields import opt_text as _opt_text
from service.pipeline.fields import q as _q
from service.pipeline.fields import reference as _reference
from service.pipeline.fields import reference_of as _reference_of
from service.pipeline.fields import required_if as _required_if
from service.pipeline.fields import text as _text
from service.pipeline.limits import DEFAULT_LIMITS, Limits
from service.pipeline.vocabulary import AUTHORITIES, LEGAL_ENTITY_TOPICS
from service.pipeline.xmlinput import ParsedXml, element_path


def _name(elem: etree._Element) -> FullName:
    return FullName(_text(elem, "surname"), _text(elem, "givenName"), _opt_text(elem, "patronymic"))


def _identity_document(e: etree._Element) -> IdentityDocument:
    return IdentityDocument(
        _text(e, "kind"),
        _opt_text(e, "series"),
        _text(e, "number"),
        _date(e, "issueDate"),
        _text(e, "issuer"),
    )


def _liability(e: etree._Element) -> LiabilityRecord:
    return LiabilityRecord(
        _date(e, "decisionDate"),
        _text(e, "legalProvision"),
        _text(e, "decision"),
        _opt_text(e, "decidedBy"),
    )


def _residence(e: etree._Element) -> Residence:
    return Residence(_text(e, "country"), _text(e, "address"), _opt_date(e, "since"))


def _permit(e: etree._Element) -> ResidencePermit:
    return ResidencePermit(
        _text(e, "kind"),
        _text(e, "number"),
        _date(e, "issueDate"),
        _opt_date(e, "validUntil"),
        _text(e, "issuer"),
    )


def _restriction(e: etree._Element) -> TravelRestriction:
    return TravelRestriction(
        _text(e, "kind"),
        _text(e, "country"),
        _date(e, "decisionDate"),
        _opt_date(e, "validUntil"),
        _text(e, "decidedBy"),
        _opt_text(e, "grounds"),
    )


_IMAGE_SIGNATURES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}


def _binary(elem: etree._Element | None, problems: list[Violation]) -> BinaryContent | None:
    if elem is None:
        return None
    media_type = elem.get("mediaType", "")
    data = base64.b64decode("".join((elem.text or "").split()))
    signatures = _IMAGE_SIGNATURES.get(media_type)
    if signatures and not data.startswith(signatures):
        problems.append(
            Violation(
                elem.sourceline,
                element_path(elem),
                f"content is not a {media_type.split('/')[1].upper()} image "
                f"although mediaType says {media_type}",
            )
        )
    return BinaryContent(media_type, data, elem.get("fileName"))


def _person(number: int, e: etree._Element, problems: list[Violation]) -> Person:
    return Person(
        number=number,
        category=_text(e, "category"),
        name_cyrillic=_name(_child(e, "nameCyrillic")),
        name_latin=_name(_child(e, "nameLatin")),
        sex=_opt_text(e, "sex"),
        birth_date=_opt_date(e, "birthDate"),
        birth_place=_opt_text(e, "birthPlace"),
        citizenship=_opt_text(e, "citizenship"),
        previous_citizenship=_opt_text(e, "previousCitizenship"),
        identity_documents=_all(e, "identityDocument", _identity_document),
        administrative_liability=_all(e, "administrativeLiability", _liability),
        criminal_liability=_all(e, "criminalLiability", _liability),
        residences=_all(e, "residence", _residence),
        residence_permits=_all(e, "residencePermit", _permit),
        travel_restrictions=_all(e, "travelRestriction", _restriction),
        photo=_binary(_child(e, "photo"), problems),
        fingerprint_card=_binary(_child(e, "fingerprintCard"), problems),
    )


def _legal_entity(e: etree._Element) -> LegalEntity:
    return LegalEntity(
        _text(e, "name"),
        _opt_text(e, "registrationNumber"),
        _text(e, "country"),
        _opt_text(e, "address"),
    )


def _legal_entities(root: etree._Element, problems: list[Violation]) -> tuple[LegalEntity, ...]:
    """Art. 4: legal entities only under its topics on illegal migration (or in a response)."""
    container = _child(root, "legalEntities")
    if container is None:
        return ()
    topic = _opt_text(root, "topic")
    if topic is not None and topic not in LEGAL_ENTITY_TOPICS:
        problems.append(
            Violation(
                container.sourceline,
                element_path(container),
                f"legal entities may be named only under the Art. 4 topics "
                f"{', '.join(sorted(LEGAL_ENTITY_TOPICS))}, not under {topic!r}",
            )
        )
    return _all(container, "legalEntity", _legal_entity)


def _persons(root: etree._Element, problems: list[Violation]) -> tuple[Person, ...]:
    container = _child(root, "persons")
    if container is None:
        return ()
    return tuple(_person(i, e, problems) for i, e in enumerate(container.iterfind(_q("person")), 1))


def check_person_count(root: etree._Element, limits: Limits) -> None:
    """Refuse more persons than :attr:`Limits.max_persons` before anything is built."""
    persons = root.findall(f"{_q('persons')}/{_q('person')}")
    if len(persons) > limits.max_persons:
        extra = persons[limits.max_persons]
        raise LimitExceeded(
            f"document lists {len(persons)} persons; the limit is {limits.max_persons}",
            (
                Violation(
                    extra.sourceline,
                    element_path(extra),
                    f"at most {limits.max_persons} persons per document; split the document",
                ),
            ),
        )


def _where(elem: etree._Element) -> images.Where:
    return images.Where(elem.sourceline, element_path(elem))


def _decoded_images(
    root: etree._Element, persons: tuple[Person, ...], limits: Limits
) -> tuple[Person, ...]:
    """Every photo and card decoded under the caps; photos in the form that is printed.

    All headers are read first, so that the total pixel budget is checked before any
    image is decoded.
    """
    elements = root.findall(f"{_q('persons')}/{_q('person')}")
    found = []
    for elem, person in zip(elements, persons, strict=True):
        for name, content in (
            ("photo", person.photo),
            ("fingerprintCard", person.fingerprint_card),
        ):
            child = _child(elem, name)
            if content is not None and child is not None:
                found.append((person, name, content, _where(child)))
    total = 0
    for _, _, content, where in found:
        if content.media_type in images.FORMATS:
            total += images.check_size(content.data, content.media_type, where, limits)
    if total > limits.max_total_image_pixels:
        raise LimitExceeded(
            f"the images of this document have {total} pixels together; the limit is "
            f"{limits.max_total_image_pixels}",
            (Violation(None, "/", "send smaller photos or fingerprint cards"),),
        )
    printed: dict[int, bytes] = {}
    for person, name, content, where in found:
        if name == "photo":
            printed[person.number] = images.printable_photo(
                content.data, content.media_type, where, limits
            )
        else:
            images.check_card(content.data, content.media_type, where, limits)
    return tuple(_with_photo(p, printed.get(p.number)) for p in persons)


def _with_photo(person: Person, data: bytes | None) -> Person:
    if person.photo is None or data is None or data is person.photo.data:
        return person
    return dataclasses.replace(person, photo=dataclasses.replace(person.photo, data=data))


def _header(root: etree._Element, problems: list[Violation]) -> Header:
    e = _child(root, "header")
    assert e is not None
    header = Header(
        document_id=_text(e, "documentId").lower(),
        document_date=_date(e, "documentDate"),
        sender=_text(e, "sender"),
        recipient=_text(e, "recipient"),
        signatory=_text(e, "signatory"),
        confidentiality=_text(e, "confidentiality"),
        executor=_executor(_child(e, "executor")),
    )
    if AUTHORITIES[header.sender].country == AUTHORITIES[header.recipient].country:
        recipient = _child(e, "recipient")
        assert recipient is not None
        problems.append(
            Violation(
                recipient.sourceline,
                element_path(recipient),
                f"sender {header.sender} and recipient {header.recipient} are authorities of the "
                "same country; the Agreement governs exchanges between Kazakhstan and Belarus",
            )
        )
    return header


def _executor(e: etree._Element | None) -> Executor | None:
    if e is None:
        return None
    return Executor(" ".join(_text(e, "name").split()), _opt_text(e, "phone"))


def build(parsed: ParsedXml, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Build the typed model; raise :class:`InconsistentDocument` listing every problem.

    Images are decoded here (see :mod:`service.pipeline.images`); a photo that does not decode or
    is beyond the limits raises :class:`~service.errors.BadImage` or
    :class:`~service.errors.LimitExceeded` at once.
    """
    root = parsed.root
    check_person_count(root, limits)
    problems: list[Violation] = []
    header = _header(root, problems)
    problems.extend(scope_violations(root))
    persons = _persons(root, problems)
    if not problems:  # a mismatched magic was reported already; decode only the rest
        persons = _decoded_images(root, persons, limits)
    for person_elem, person in zip(
        root.iterfind(f"{_q('persons')}/{_q('person')}"), persons, strict=True
    ):
        if person.birth_date and person.birth_date > header.document_date:
            birth = _child(person_elem, "birthDate")
            assert birth is not None
            problems.append(
                Violation(
                    birth.sourceline,
                    element_path(birth),
                    "birth date is later than the document date",
                )
            )
    document: Document
    match parsed.document_type:
        case "request":
            requested = _child(root, "requestedData")
            document = Request(
                document_type="request",
                header=header,
                persons=persons,
                topic=_text(root, "topic"),
                summary=_text(root, "summary"),
                purpose=_text(root, "purpose"),
                justification=_text(root, "justification"),
                requested_data=tuple(i.text or "" for i in requested.iterfind(_q("item")))
                if requested is not None
                else (),
                other_information=_opt_text(root, "otherInformation"),
                legal_entities=_legal_entities(root, problems),
            )
        case "response":
            document = Response(
                document_type="response",
                header=header,
                persons=persons,
                in_reply_to=_reference(root, header, problems),
                outcome=_text(root, "outcome"),
                narrative=_text(root, "narrative"),
                legal_entities=_legal_entities(root, problems),
            )
        case "refusal-notice":
            grounds = _child(root, "grounds")
            assert grounds is not None
            document = RefusalNotice(
                document_type="refusal-notice",
                header=header,
                persons=persons,
                in_reply_to=_reference(root, header, problems),
                scope=_text(root, "scope"),
                grounds=tuple(g.text or "" for g in grounds.iterfind(_q("ground"))),
                reasons=_text(root, "reasons"),
            )
        case "additional-information-request":
            document = AdditionalInformationRequest(
                document_type="additional-information-request",
                header=header,
                persons=persons,
                in_reply_to=_reference(root, header, problems),
                requested_information=_text(root, "requestedInformation"),
                justification=_text(root, "justification"),
            )
        case "delay-notice":
            document = DelayNotice(
                document_type="delay-notice",
                header=header,
                in_reply_to=_reference(root, header, problems),
                circumstance=_text(root, "circumstance"),
                reason=_text(root, "reason"),
                expected_date=_not_before(root, "expectedDate", header, problems),
            )
        case "postponement-notice":
            kind = _text(root, "kind")
            _required_if(root, "postponedUntil", "kind", False, kind == "postpone", problems)
            document = PostponementNotice(
                document_type="postponement-notice",
                header=header,
                in_reply_to=_reference(root, header, problems),
                kind=kind,
                ground=_text(root, "ground"),
                reasons=_text(root, "reasons"),
                conditions=_required_if(
                    root, "conditions", "kind", kind == "conditions", kind == "conditions", problems
                ),
                postponed_until=_not_before(root, "postponedUntil", header, problems),
            )
        case "authenticity-confirmation-request":
            document = AuthenticityConfirmationRequest(
                document_type="authenticity-confirmation-request",
                header=header,
                questioned_document=_reference(
                    root, header, problems, "questionedDocument", "questioned document"
                ),
                doubt=_text(root, "doubt"),
                reasons=_text(root, "reasons"),
            )
        case "authenticity-confirmation":
            in_reply_to = _reference(root, header, problems, what="confirmation request")
            questioned = _reference(
                root, header, problems, "questionedDocument", "questioned document"
            )
            if in_reply_to.date < questioned.date <= header.document_date:
                questioned_elem = _child(root, "questionedDocument")
                assert questioned_elem is not None
                date_elem = _child(questioned_elem, "date")
                assert date_elem is not None
                problems.append(
                    Violation(
                        date_elem.sourceline,
                        element_path(date_elem),
                        f"the questioned document date {questioned.date} is later than the "
                        f"confirmation request date {in_reply_to.date}",
                    )
                )
            document = AuthenticityConfirmation(
                document_type="authenticity-confirmation",
                header=header,
                in_reply_to=in_reply_to,
                questioned_document=questioned,
                confirmed=_text(root, "confirmed") in ("true", "1"),
                explanation=_text(root, "explanation"),
            )
        case "unsolicited-information":
            document = UnsolicitedInformation(
                document_type="unsolicited-information",
                header=header,
                persons=persons,
                topic=_text(root, "topic"),
                summary=_text(root, "summary"),
                information=_text(root, "information"),
                legal_entities=_legal_entities(root, problems),
            )
        case "confidentiality-notice":
            document = ConfidentialityNotice(
                document_type="confidentiality-notice",
                header=header,
                in_reply_to=_reference(root, header, problems),
                circumstances=_text(root, "circumstances"),
                disclosure=_opt_text(root, "disclosure"),
                reply_by=_not_before(root, "replyBy", header, problems),
            )
        case "third-party-consent-request":
            documents = _child(root, "documents")
            assert documents is not None
            document = ThirdPartyConsentRequest(
                document_type="third-party-consent-request",
                header=header,
                documents=tuple(
                    _reference_of(e, header, problems, "referenced document")
                    for e in documents.iterfind(_q("document"))
                ),
                third_party=_text(root, "thirdParty"),
                third_party_country=_opt_text(root, "thirdPartyCountry"),
                information=_text(root, "information"),
                purpose=_text(root, "purpose"),
            )
        case "third-party-consent":
            decision = _text(root, "decision")
            granted = decision == "granted"
            document = ThirdPartyConsent(
                document_type="third-party-consent",
                header=header,
                in_reply_to=_reference(root, header, problems, what="consent request"),
                third_party=_text(root, "thirdParty"),
                decision=decision,
                conditions=_required_if(root, "conditions", "decision", False, granted, problems),
                reasons=_required_if(
                    root, "reasons", "decision", not granted, not granted, problems
                ),
            )
        case kind if kind in ANSWER_TYPES:
            document = build_answer(kind, root, header, persons, problems)
        case other:  # pragma: no cover - validate() only returns known types
            raise InconsistentDocument(f"unsupported document type {other}")
    if problems:
        problems.sort(key=lambda v: v.line or 0)
        count = len(problems)
        raise InconsistentDocument(
            f"document is inconsistent ({count} problem{'s' if count > 1 else ''})",
            tuple(problems),
        )
    return document
