"""The requesting side's answers in its own case (Art. 10.1, 10.2, 11.1, withdrawal) and the
references every document makes, checked against the documents the service holds."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InconsistentDocument
from service.pipeline.stages import parse_document
from tests.cases.test_cases_api import REQUEST, RESPONSE, get, number, post, reply
from tests.cases.xmltools import rewrite, sample
from tests.service.conftest import Env

ADDITIONAL_REQUEST = sample("additional-information-request-person.xml")
CONDITIONS = sample("postponement-notice-conditions.xml")
POSTPONE = sample("postponement-notice-postpone.xml")
CONFIDENTIALITY = sample("confidentiality-notice-court.xml")
INFORMATION = sample("additional-information-person.xml")
CONDITIONS_DECISION = sample("conditions-decision-accepted.xml")
CONFIDENTIALITY_DECISION = sample("confidentiality-decision-proceed.xml")
WITHDRAWAL = sample("request-withdrawal-duplicate.xml")
AUTHENTICITY = sample("authenticity-confirmation-request-signature.xml")  # KZ-MVD → BY-MVD
CONSENT = sample("third-party-consent-granted.xml")


def answer(raw: bytes, request: str, notice: str | None = None, **changes: Any) -> bytes:
    """``raw`` as KZ-MVD's answer in the case of its request ``request`` to BY-MVD."""
    return rewrite(
        raw, sender="KZ-MVD", recipient="BY-MVD", request=request, reply_to=notice, **changes
    )


def status(env: Env) -> dict[str, str]:
    items = get(env, "/api/v1/cases").json["items"]
    return {c["request"]["registration_number"]: c["status"] for c in items}


def test_additional_information_answers_the_request_for_it(sqlite_env: Env) -> None:
    env = sqlite_env
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    asked = post(env, reply(ADDITIONAL_REQUEST, n1), "BY-MVD")["registration_number"]
    assert status(env) == {n1: "awaiting-additional-information"}
    # The requested side cannot write the requesting side's answer; nor a stranger.
    theirs = rewrite(INFORMATION, sender="BY-MVD", recipient="KZ-MVD", request=n1, reply_to=asked)
    refused = post(env, theirs, "BY-MVD", 403)
    assert "KZ-MVD, the requesting authority" in refused["message"]
    # It must answer an additional-information request of this very case.
    wrong = post(env, answer(INFORMATION, n1, n1), "KZ-MVD", 422)
    assert wrong["details"][0]["path"] == "/additionalInformation/inReplyTo/registrationNumber"
    assert "no additional-information-request" in wrong["details"][0]["message"]
    given = post(env, answer(INFORMATION, n1, asked), "KZ-MVD")
    assert given["registration_number"] == number("KZ-MVD", 2)  # the refusals took none
    assert status(env) == {n1: "open"}
    post(env, reply(RESPONSE, n1), "BY-MVD")
    (case,) = get(env, "/api/v1/cases").json["items"]
    timeline = get(env, case["links"]["self"]).json["timeline"]
    assert [d["document_type"] for d in timeline] == [
        "request",
        "additional-information-request",
        "additional-information",
        "response",
    ]


def test_conditions_accepted_reopen_and_declined_withdraw(sqlite_env: Env) -> None:
    env = sqlite_env
    accepted, declined, postponed = (
        post(env, rewrite(REQUEST), "KZ-MVD")["registration_number"] for _ in range(3)
    )
    notice = post(env, reply(CONDITIONS, accepted), "BY-MVD")["registration_number"]
    assert status(env)[accepted] == "postponed"
    post(env, answer(CONDITIONS_DECISION, accepted, notice), "KZ-MVD")
    assert status(env)[accepted] == "open"
    again = post(env, answer(CONDITIONS_DECISION, accepted, notice), "KZ-MVD", 422)
    assert "was answered already" in again["message"]

    other = post(env, reply(CONDITIONS, declined), "BY-MVD")["registration_number"]
    post(env, answer(CONDITIONS_DECISION, declined, other, decision="declined"), "KZ-MVD")
    assert status(env)[declined] == "withdrawn"
    late = post(env, reply(RESPONSE, declined), "BY-MVD", 422)
    assert "was withdrawn" in late["message"]

    only_postponed = post(env, reply(POSTPONE, postponed), "BY-MVD")["registration_number"]
    refused = post(env, answer(CONDITIONS_DECISION, postponed, only_postponed), "KZ-MVD", 422)
    assert "sets no conditions" in refused["message"]
    assert status(env)[postponed] == "postponed"


def test_confidentiality_decision_proceeds_or_withdraws(sqlite_env: Env) -> None:
    env = sqlite_env
    proceed, withdraw = (
        post(env, rewrite(REQUEST), "KZ-MVD")["registration_number"] for _ in range(2)
    )
    notice = post(env, reply(CONFIDENTIALITY, proceed), "BY-MVD")["registration_number"]
    post(env, answer(CONFIDENTIALITY_DECISION, proceed, notice), "KZ-MVD")
    assert status(env)[proceed] == "open"
    # The notice of another case is not this case's.
    other = post(env, reply(CONFIDENTIALITY, withdraw), "BY-MVD")["registration_number"]
    crossed = post(env, answer(CONFIDENTIALITY_DECISION, proceed, other), "KZ-MVD", 422)
    assert f"no confidentiality-notice {other} in case {proceed}" in crossed["message"]
    post(
        env,
        answer(CONFIDENTIALITY_DECISION, withdraw, other, decision="withdraw"),
        "KZ-MVD",
    )
    assert status(env)[withdraw] == "withdrawn"


def test_withdrawal_closes_the_case_and_only_an_open_one(sqlite_env: Env) -> None:
    env = sqlite_env
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    answered = post(env, rewrite(REQUEST), "KZ-MVD")["registration_number"]
    post(env, reply(RESPONSE, answered), "BY-MVD")
    theirs = rewrite(WITHDRAWAL, sender="BY-MVD", recipient="KZ-MVD", request=n1)
    assert post(env, theirs, "BY-MVD", 403)["error"] == "forbidden"
    post(env, answer(WITHDRAWAL, n1), "KZ-MVD")
    assert status(env) == {n1: "withdrawn", answered: "answered"}
    for late, by in ((RESPONSE, "BY-MVD"), (ADDITIONAL_REQUEST, "BY-MVD")):
        assert "was withdrawn" in post(env, reply(late, n1), by, 422)["message"]
    assert "was withdrawn" in post(env, answer(WITHDRAWAL, n1), "KZ-MVD", 422)["message"]
    closed = post(env, answer(WITHDRAWAL, answered), "KZ-MVD", 422)
    assert "is closed" in closed["message"]
    unknown = post(env, answer(WITHDRAWAL, number("KZ-MVD", 77)), "KZ-MVD", 422)
    assert unknown["details"][0]["path"] == "/requestWithdrawal/request/registrationNumber"


# ----- references («№ … от …») checked against the documents held ---------------------------


def test_reference_dates_must_be_the_letters(sqlite_env: Env) -> None:
    env = sqlite_env
    request = post(env, REQUEST, "KZ-MVD")
    n1 = request["registration_number"]
    misdated = post(env, reply(RESPONSE, n1, reply_date="2026-11-19"), "BY-MVD", 422)
    [detail] = misdated["details"]
    assert detail["path"] == "/response/inReplyTo/date"
    assert "not on 2026-11-19" in detail["message"] and n1 in detail["message"]
    # The registration date printed next to the number is as good as the sender's date.
    on = request["signed_at"][:10]
    assert post(env, reply(RESPONSE, n1, reply_date=on), "BY-MVD")["registration_number"]


def test_unknown_references_are_refused_with_their_path(sqlite_env: Env) -> None:
    env = sqlite_env
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    # A questioned document of the recipient that this service never saw.
    ghost = rewrite(AUTHENTICITY, questioned="BY-MVD-2026-000091")
    refused = post(env, ghost, "KZ-MVD", 422)
    [detail] = refused["details"]
    assert (
        detail["path"] == "/authenticityConfirmationRequest/questionedDocument/registrationNumber"
    )
    assert "BY-MVD-2026-000091" in detail["message"]
    # A letter numbered otherwise (a paper letter) is outside the service: not checked.
    paper = rewrite(AUTHENTICITY, questioned="12/3-456 дсп")
    assert post(env, paper, "KZ-MVD")["document_type"] == "authenticity-confirmation-request"
    # A consent to a consent request that does not exist is refused, not issued.
    consent = rewrite(CONSENT, sender="BY-MVD", recipient="KZ-MVD", reply_to=n1)
    wrong = post(env, consent, "BY-MVD", 422)
    assert wrong["details"][0]["path"] == "/thirdPartyConsent/inReplyTo/registrationNumber"
    assert "is a request, not a third-party-consent-request" in wrong["details"][0]["message"]
    missing = rewrite(CONSENT, sender="BY-MVD", recipient="KZ-MVD", reply_to="KZ-MVD-2026-000404")
    [detail] = post(env, missing, "BY-MVD", 422)["details"]
    assert "no third-party-consent-request KZ-MVD-2026-000404" in detail["message"]
    # A third-party consent request listing a document with the wrong date.
    listed = rewrite(
        sample("third-party-consent-request-research.xml"),
        sender="KZ-MVD",
        recipient="BY-MVD",
        documents=[n1],
    ).replace(b"<date>2026-11-20</date>", b"<date>2026-11-18</date>")
    misdated = post(env, listed, "KZ-MVD", 422)
    assert misdated["details"][0]["path"] == "/thirdPartyConsentRequest/documents/document/date"


def test_transfers_are_listed_for_both_parties(sqlite_env: Env) -> None:
    from tests.cases.test_transfers import GRANTED, INTERPOL, transfer

    env = sqlite_env
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    answer_doc = post(env, reply(RESPONSE, n1), "BY-MVD")
    url = f"{answer_doc['links']['self']}/transfers"
    empty = get(env, url, "BY-MVD")
    assert empty.status_code == 200 and empty.json["items"] == [] and empty.json["total"] == 0
    asked = post(
        env,
        rewrite(
            INTERPOL,
            sender="KZ-MVD",
            recipient="BY-MVD",
            documents=[answer_doc["registration_number"]],
        ),
        "KZ-MVD",
    )
    granted = post(env, reply(GRANTED, asked["registration_number"]), "BY-MVD")
    assert transfer(env, answer_doc, granted["registration_number"]).status_code == 201
    for authority in ("KZ-MVD", "BY-MVD"):
        listed = get(env, url, authority)
        assert listed.status_code == 200, listed.json
        [item] = listed.json["items"]
        assert item["authority"] == "KZ-MVD"
        assert item["consent"]["registration_number"] == granted["registration_number"]
    assert get(env, url, "BY-GPK").status_code == 404
    assert env.client.get(url).status_code == 401


# ----- free text that looks like personal data ----------------------------------------------


def test_free_text_with_personal_identifiers_is_flagged_not_refused(sqlite_env: Env) -> None:
    env = sqlite_env
    plain = post(env, REQUEST, "KZ-MVD")
    assert plain["warnings"] == []
    raw = REQUEST.decode("utf-8")
    start = raw.index("<summary>") + len("<summary>")
    raw = raw[:start] + "Гражданин 12.03.1985 г.р., паспорт N12345678. " + raw[start:]
    flagged = post(env, rewrite(raw.encode("utf-8")), "KZ-MVD")
    assert {(w["path"], w["message"].split(" («")[0]) for w in flagged["warnings"]} == {
        (
            "/request/summary",
            "free text looks like it carries a passport or identity document number",
        ),
        ("/request/summary", "free text looks like it carries a date of birth"),
    }
    assert all("12345678" not in w["message"] for w in flagged["warnings"])


def test_legal_entities_only_under_the_topics_of_article_4() -> None:
    raw = sample("unsolicited-information-organisers.xml")
    organisers = parse_document(raw)
    assert [e.name for e in organisers.legal_entities] == [  # type: ignore[attr-defined]
        "ТОО «Жибек Жолы Тревел»",
        "ООО «Вэстлайн Тур»",
    ]
    moved = raw.replace(b"illegal-migration-organisers", b"staff-training")
    with pytest.raises(InconsistentDocument) as info:
        parse_document(moved)
    [violation] = info.value.violations
    assert violation.path == "/unsolicitedInformation/legalEntities"
    assert "staff-training" in violation.message
