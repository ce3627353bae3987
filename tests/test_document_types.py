"""The document types of Art. 8–11 beyond request, response and refusal notice: each parses
into its model, its closed lists are enforced, and each sample is signed by the service."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from service.errors import InconsistentDocument
from service.paths import SAMPLES_DIR
from service.pipeline import document as model
from service.pipeline import vocabulary
from service.pipeline.stages import parse_document
from service.pipeline.xmlinput import ROOT_TO_TYPE
from signing.registry import DEFAULT_DOCUMENT_TYPES
from tests.cases.xmltools import prepared
from tests.service.conftest import Env, demo_template, sqlite_env  # noqa: F401  (fixtures)

NEW_TYPES: dict[str, type[model.Document]] = {
    "additional-information-request": model.AdditionalInformationRequest,
    "delay-notice": model.DelayNotice,
    "postponement-notice": model.PostponementNotice,
    "authenticity-confirmation-request": model.AuthenticityConfirmationRequest,
    "authenticity-confirmation": model.AuthenticityConfirmation,
    "unsolicited-information": model.UnsolicitedInformation,
    "confidentiality-notice": model.ConfidentialityNotice,
    "third-party-consent-request": model.ThirdPartyConsentRequest,
    "third-party-consent": model.ThirdPartyConsent,
    "additional-information": model.AdditionalInformation,
    "conditions-decision": model.ConditionsDecision,
    "confidentiality-decision": model.ConfidentialityDecision,
    "request-withdrawal": model.RequestWithdrawal,
}
"""Type code → model class, in the order of issues 6 and 12."""

NEW_SAMPLES = sorted({p for t in NEW_TYPES for p in SAMPLES_DIR.glob(f"{t}-*.xml")})


def _samples_of(code: str) -> list[Path]:
    """The samples of type ``code`` (``additional-information-*`` is also a prefix of
    ``additional-information-request-*``)."""
    return [p for p in NEW_SAMPLES if p.name.startswith(f"{code}-") and _root_type(p) == code]


def _root_type(path: Path) -> str:
    return ROOT_TO_TYPE[etree.parse(str(path)).getroot().tag.split("}")[1]]


def _load(name: str) -> model.Document:
    return parse_document((SAMPLES_DIR / name).read_bytes())


def _replace(name: str, old: str, new: str) -> bytes:
    raw = (SAMPLES_DIR / name).read_text(encoding="utf-8")
    assert old in raw, old
    return raw.replace(old, new, 1).encode("utf-8")


def _inconsistent(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(InconsistentDocument) as info:
        parse_document(raw)
    return [(v.path, v.message) for v in info.value.violations]


# ----- every type is wired everywhere -----------------------------------------------------


def test_root_names_follow_the_naming_convention() -> None:
    # lowerCamelCase root ↔ kebab-case code: readers without the schema rely on it.
    for root, code in ROOT_TO_TYPE.items():
        assert re.sub(r"(?<!^)([A-Z])", r"-\1", root).lower() == code


@pytest.mark.parametrize("code", NEW_TYPES)
def test_type_is_known_to_every_table(code: str) -> None:
    assert code in ROOT_TO_TYPE.values()
    assert code in vocabulary.DOCUMENT_TITLES
    assert dict(DEFAULT_DOCUMENT_TYPES)[code] == vocabulary.DOCUMENT_TITLES[code]
    assert (Path(__file__).parents[1] / "templates" / f"{code}.html.j2").is_file()
    assert len(_samples_of(code)) >= 2, code


def test_registry_titles_match_the_vocabulary() -> None:
    assert dict(DEFAULT_DOCUMENT_TYPES) == vocabulary.DOCUMENT_TITLES


@pytest.mark.parametrize("path", NEW_SAMPLES, ids=lambda p: p.name)
def test_sample_parses_into_its_model(path: Path) -> None:
    document = parse_document(path.read_bytes())
    assert type(document) is NEW_TYPES[document.document_type]
    assert path.name.startswith(f"{document.document_type}-")
    sender, recipient = document.header.sender, document.header.recipient
    assert vocabulary.AUTHORITIES[sender].country != vocabulary.AUTHORITIES[recipient].country
    assert document.header.signatory.startswith(f"{sender}-")
    assert document.header.document_date <= dt.date(2026, 11, 24)


# ----- additional-information request (Art. 10.1) -------------------------------------------


def test_additional_information_request_fields() -> None:
    person = _load("additional-information-request-person.xml")
    assert isinstance(person, model.AdditionalInformationRequest)
    assert person.in_reply_to == model.RequestReference("KZ-MVD-2026-000001", dt.date(2026, 11, 20))
    assert person.requested_information.startswith("Просим сообщить серию и номер")
    assert len(person.requested_information.split("\n\n")) == 2
    assert "совпадающими фамилией" in person.justification
    (someone,) = person.persons
    assert someone.name_latin.surname == "D'Artanyan-Kovaleva"
    assert someone.category == "temporary-stay"
    labour = _load("additional-information-request-labour.xml")
    assert isinstance(labour, model.AdditionalInformationRequest)
    assert (labour.header.sender, labour.header.recipient) == ("KZ-MTSZN", "BY-GPK")
    assert labour.persons == ()


def test_additional_information_request_cannot_precede_the_request() -> None:
    raw = _replace(
        "additional-information-request-labour.xml",
        "<date>2026-10-19</date>",
        "<date>2026-10-28</date>",
    )
    [(path, message)] = _inconsistent(raw)
    assert path == "/additionalInformationRequest/inReplyTo/date"
    assert "later than this document's date" in message


# ----- delay notice (Art. 10.1) -------------------------------------------------------------


def test_delay_notice_fields() -> None:
    delay = _load("delay-notice-expected-date.xml")
    assert isinstance(delay, model.DelayNotice)
    assert delay.circumstance == "delays-execution"
    assert delay.expected_date == dt.date(2026, 11, 27)
    assert delay.in_reply_to is not None
    assert delay.in_reply_to.registration_number == "BY-GPK-2026-000052"
    assert "Мангистауской области" in delay.reason
    obstacle = _load("delay-notice-obstacle.xml")
    assert isinstance(obstacle, model.DelayNotice)
    assert obstacle.circumstance == "prevents-execution"
    assert obstacle.expected_date is None
    assert obstacle.persons == ()


def test_delay_notice_expected_date_not_in_the_past() -> None:
    raw = _replace(
        "delay-notice-expected-date.xml",
        "<expectedDate>2026-11-27</expectedDate>",
        "<expectedDate>2026-11-09</expectedDate>",
    )
    [(path, message)] = _inconsistent(raw)
    assert path == "/delayNotice/expectedDate"
    assert "earlier than this document's date" in message


# ----- postponement notice (Art. 10.2) ------------------------------------------------------


def test_postponement_notice_fields() -> None:
    postpone = _load("postponement-notice-postpone.xml")
    assert isinstance(postpone, model.PostponementNotice)
    assert (postpone.kind, postpone.ground) == ("postpone", "criminal-prosecution")
    assert postpone.conditions is None
    assert postpone.postponed_until == dt.date(2026, 12, 15)
    conditions = _load("postponement-notice-conditions.xml")
    assert isinstance(conditions, model.PostponementNotice)
    assert (conditions.kind, conditions.ground) == ("conditions", "other-proceedings")
    assert conditions.conditions is not None
    assert "административного процесса" in conditions.conditions
    assert conditions.postponed_until is None


def test_postponement_conditions_are_required_for_kind_conditions() -> None:
    start = "  <conditions>"
    raw = (SAMPLES_DIR / "postponement-notice-conditions.xml").read_text(encoding="utf-8")
    raw = raw[: raw.index(start)] + raw[raw.index("</conditions>\n") + len("</conditions>\n") :]
    [(path, message)] = _inconsistent(raw.encode("utf-8"))
    assert path == "/postponementNotice/kind"
    assert "requires element <conditions>" in message


def test_postponement_conditions_and_date_are_not_allowed_for_kind_postpone() -> None:
    raw = _replace(
        "postponement-notice-postpone.xml",
        "<postponedUntil>",
        "<conditions>Не разглашать.</conditions>\n  <postponedUntil>",
    )
    [(path, message)] = _inconsistent(raw)
    assert path == "/postponementNotice/conditions"
    assert "not allowed when <kind> is 'postpone'" in message
    raw = _replace(
        "postponement-notice-conditions.xml",
        "</conditions>",
        "</conditions>\n  <postponedUntil>2026-12-01</postponedUntil>",
    )
    [(path, message)] = _inconsistent(raw)
    assert path == "/postponementNotice/postponedUntil"


# ----- authenticity confirmation request and answer (Art. 9.5) --------------------------------


def test_authenticity_confirmation_request_fields() -> None:
    signature = _load("authenticity-confirmation-request-signature.xml")
    assert isinstance(signature, model.AuthenticityConfirmationRequest)
    assert signature.questioned_document == model.RequestReference(
        "BY-MVD-2026-000091", dt.date(2026, 11, 9)
    )
    assert signature.in_reply_to == signature.questioned_document  # «На № … от …»
    assert signature.doubt == "authenticity"
    assert "перечне лиц" in signature.reasons
    content = _load("authenticity-confirmation-request-content.xml")
    assert isinstance(content, model.AuthenticityConfirmationRequest)
    assert content.doubt == "content"
    assert content.questioned_document is not None
    assert content.questioned_document.registration_number == "KZ-MTSZN-2026-000021"


def test_authenticity_confirmation_fields_answer_the_requests() -> None:
    confirmed = _load("authenticity-confirmation-confirmed.xml")
    question = _load("authenticity-confirmation-request-signature.xml")
    assert isinstance(confirmed, model.AuthenticityConfirmation)
    assert isinstance(question, model.AuthenticityConfirmationRequest)
    assert confirmed.confirmed is True
    assert confirmed.in_reply_to == model.RequestReference(
        "KZ-MVD-2026-000140", question.header.document_date
    )
    assert confirmed.questioned_document == question.questioned_document
    assert (confirmed.header.sender, confirmed.header.recipient) == (
        question.header.recipient,
        question.header.sender,
    )
    refuted = _load("authenticity-confirmation-not-confirmed.xml")
    assert isinstance(refuted, model.AuthenticityConfirmation)
    assert refuted.confirmed is False
    assert "техническая ошибка" in refuted.explanation


def test_authenticity_confirmation_boolean_and_date_order() -> None:
    name = "authenticity-confirmation-confirmed.xml"
    document = parse_document(_replace(name, "<confirmed>true", "<confirmed>0"))
    assert isinstance(document, model.AuthenticityConfirmation)
    assert document.confirmed is False
    raw = _replace(name, "<date>2026-11-09</date>", "<date>2026-11-17</date>")
    [(path, message)] = _inconsistent(raw)
    assert path == "/authenticityConfirmation/questionedDocument/date"
    assert "later than the confirmation request date" in message


def test_authenticity_confirmation_request_questioned_document_not_in_the_future() -> None:
    raw = _replace(
        "authenticity-confirmation-request-content.xml",
        "<date>2026-11-02</date>",
        "<date>2026-11-07</date>",
    )
    [(path, message)] = _inconsistent(raw)
    assert path == "/authenticityConfirmationRequest/questionedDocument/date"
    assert "questioned document date" in message


# ----- unsolicited information (Art. 8) -----------------------------------------------------


def test_unsolicited_information_fields() -> None:
    organisers = _load("unsolicited-information-organisers.xml")
    assert isinstance(organisers, model.UnsolicitedInformation)
    assert organisers.topic == "illegal-migration-organisers"
    assert organisers.summary.startswith("О выявленном канале")
    assert len(organisers.information.split("\n\n")) == 3
    assert [p.name_latin.surname for p in organisers.persons] == ["Rakhimov", "Seitzhanova"]
    assert [p.travel_restrictions[0].kind for p in organisers.persons] == [
        "entry-ban",
        "exit-restriction",
    ]
    assert not hasattr(organisers, "in_reply_to")
    legislation = _load("unsolicited-information-legislation.xml")
    assert isinstance(legislation, model.UnsolicitedInformation)
    assert legislation.topic == "migration-legislation"
    assert legislation.persons == ()


# ----- confidentiality notice (Art. 11.1) ---------------------------------------------------


def test_confidentiality_notice_fields() -> None:
    reply_by = _load("confidentiality-notice-reply-by.xml")
    assert isinstance(reply_by, model.ConfidentialityNotice)
    assert reply_by.in_reply_to == model.RequestReference(
        "KZ-MVD-2026-000121", dt.date(2026, 11, 12)
    )
    assert "архиве авиаперевозчика" in reply_by.circumstances
    assert reply_by.disclosure is not None and "Авиаперевозчику" in reply_by.disclosure
    assert reply_by.reply_by == dt.date(2026, 11, 24)
    court = _load("confidentiality-notice-court.xml")
    assert isinstance(court, model.ConfidentialityNotice)
    assert (court.disclosure, court.reply_by) == (None, None)


def test_confidentiality_notice_reply_by_not_in_the_past() -> None:
    raw = _replace(
        "confidentiality-notice-reply-by.xml", "<replyBy>2026-11-24", "<replyBy>2026-11-16"
    )
    [(path, _)] = _inconsistent(raw)
    assert path == "/confidentialityNotice/replyBy"


# ----- third-party consent request and answer (Art. 11.3) -----------------------------------


def test_third_party_consent_request_fields() -> None:
    interpol = _load("third-party-consent-request-interpol.xml")
    assert isinstance(interpol, model.ThirdPartyConsentRequest)
    assert interpol.documents == (
        model.RequestReference("BY-GPK-2026-000058", dt.date(2026, 11, 4)),
        model.RequestReference("BY-GPK-2026-000063", dt.date(2026, 11, 11)),
    )
    assert interpol.third_party == "Министерство внутренних дел Кыргызской Республики"
    assert interpol.third_party_country == "KGZ"
    assert "уголовному делу" in interpol.purpose
    assert not hasattr(interpol, "in_reply_to")
    research = _load("third-party-consent-request-research.xml")
    assert isinstance(research, model.ThirdPartyConsentRequest)
    assert len(research.documents) == 1
    assert research.third_party_country is None
    assert "Персональные данные не передаются" in research.information


def test_third_party_consent_request_documents_are_distinct_and_not_in_the_future() -> None:
    from service.errors import SchemaViolation

    name = "third-party-consent-request-interpol.xml"
    raw = _replace(name, "BY-GPK-2026-000063", "BY-GPK-2026-000058")
    with pytest.raises(SchemaViolation) as info:
        parse_document(raw)
    [violation] = info.value.violations
    assert "listed more than once" in violation.message
    raw = _replace(name, "<date>2026-11-11</date>", "<date>2026-11-21</date>")
    [(path, message)] = _inconsistent(raw)
    assert path == "/thirdPartyConsentRequest/documents/document[2]/date"
    assert "referenced document date" in message


def test_third_party_consent_fields() -> None:
    granted = _load("third-party-consent-granted.xml")
    assert isinstance(granted, model.ThirdPartyConsent)
    assert granted.decision == "granted"
    assert granted.third_party == "Министерство внутренних дел Кыргызской Республики"
    assert granted.conditions is not None and len(granted.conditions.split("\n\n")) == 2
    assert granted.reasons is None
    denied = _load("third-party-consent-denied.xml")
    assert isinstance(denied, model.ThirdPartyConsent)
    assert denied.decision == "denied"
    assert denied.conditions is None
    assert denied.reasons is not None and "не подлежат публикации" in denied.reasons


def test_third_party_consent_reasons_and_conditions_follow_the_decision() -> None:
    denied = (SAMPLES_DIR / "third-party-consent-denied.xml").read_text(encoding="utf-8")
    no_reasons = denied[: denied.index("  <reasons>")] + "</thirdPartyConsent>\n"
    [(path, message)] = _inconsistent(no_reasons.encode("utf-8"))
    assert path == "/thirdPartyConsent/decision"
    assert "requires element <reasons>" in message
    with_conditions = _replace(
        "third-party-consent-denied.xml",
        "  <reasons>",
        "  <conditions>Только обобщённые данные.</conditions>\n  <reasons>",
    )
    [(path, message)] = _inconsistent(with_conditions)
    assert path == "/thirdPartyConsent/conditions"
    assert "not allowed when <decision> is 'denied'" in message
    granted_with_reasons = _replace(
        "third-party-consent-granted.xml",
        "</conditions>",
        "</conditions>\n  <reasons>Цель соответствует Соглашению.</reasons>",
    )
    [(path, _)] = _inconsistent(granted_with_reasons)
    assert path == "/thirdPartyConsent/reasons"


# ----- through the service: posted, signed, pdfsig-valid ----------------------------------


@pytest.mark.parametrize("path", NEW_SAMPLES, ids=lambda p: p.name)
def test_sample_is_signed_by_the_service(
    path: Path,
    sqlite_env: Env,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    document = parse_document(path.read_bytes())

    def post(raw: bytes, authority: str) -> dict[str, Any]:
        earlier = sqlite_env.post_xml(raw, authority=authority)
        assert earlier.status_code == 201, earlier.json
        body: dict[str, Any] = earlier.json
        return body

    # The documents a sample names (a reply's request, a questioned document, …) first.
    raw = prepared(path.read_bytes(), post)
    response = sqlite_env.post_xml(raw, authority=document.header.sender)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["document_type"] == document.document_type
    assert body["signatory"]["id"] == document.header.signatory
    pdf = sqlite_env.client.get(
        body["links"]["pdf"], headers={"X-API-Key": sqlite_env.keys[document.header.recipient]}
    )
    assert pdf.status_code == 200
    out = tmp_path / "signed.pdf"
    out.write_bytes(pdf.data)
    # pdfsig may cut a Cyrillic signer name mid-character: read its report as bytes.
    report = subprocess.run(["pdfsig", str(out)], capture_output=True).stdout
    assert b"Signature is Valid" in report, report
