"""Art. 11.3: a document passes to a third party only under a recorded, granted consent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.store.tables import AuditEntry, Transfer
from tests.cases.test_cases_api import REQUEST, RESPONSE, get, number, post, reply
from tests.cases.xmltools import rewrite, sample
from tests.service.conftest import Env

INTERPOL = sample("third-party-consent-request-interpol.xml")
GRANTED = sample("third-party-consent-granted.xml")
DENIED = sample("third-party-consent-denied.xml")
THIRD_PARTY = "Министерство внутренних дел Кыргызской Республики"


def transfer(env: Env, document: dict[str, Any], consent: str, authority: str = "KZ-MVD") -> Any:
    return env.client.post(
        f"{document['links']['self']}/transfers",
        json={"third_party": THIRD_PARTY, "consent_registration_number": consent},
        headers={"X-API-Key": env.keys[authority]},
    )


def test_transfer_refused_without_consent_and_accepted_with_it(env: Env) -> None:
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    answer = post(env, reply(RESPONSE, n1), "BY-MVD")
    missing = transfer(env, answer, number("BY-MVD", 99))
    assert missing.status_code == 422, missing.json
    assert "without a recorded consent" in missing.json["message"]
    assert missing.json["details"][0]["path"] == "/consent_registration_number"

    asked = post(
        env,
        rewrite(
            INTERPOL,
            sender="KZ-MVD",
            recipient="BY-MVD",
            documents=[answer["registration_number"]],
        ),
        "KZ-MVD",
    )
    other_request = post(
        env, rewrite(INTERPOL, sender="KZ-MVD", recipient="BY-MVD", documents=[n1]), "KZ-MVD"
    )
    denied = post(
        env,
        reply(DENIED, asked["registration_number"], thirdParty=THIRD_PARTY),
        "BY-MVD",
    )
    assert transfer(env, answer, denied["registration_number"]).status_code == 422
    wrong_cover = post(env, reply(GRANTED, other_request["registration_number"]), "BY-MVD")
    refused = transfer(env, answer, wrong_cover["registration_number"])
    assert refused.status_code == 422 and "does not cover" in refused.json["message"]
    # A request is not a consent, whatever it says.
    assert transfer(env, answer, asked["registration_number"]).status_code == 422

    granted = post(env, reply(GRANTED, asked["registration_number"]), "BY-MVD")
    elsewhere = env.client.post(
        f"{answer['links']['self']}/transfers",
        json={
            "third_party": "Интерпол",
            "consent_registration_number": granted["registration_number"],
        },
        headers={"X-API-Key": env.keys["KZ-MVD"]},
    )
    assert elsewhere.status_code == 422 and "consents to" in elsewhere.json["message"]
    # The consent is the other side's: BY-MVD cannot use it; a stranger sees nothing.
    assert transfer(env, answer, granted["registration_number"], "BY-MVD").status_code == 422
    assert transfer(env, answer, granted["registration_number"], "BY-GPK").status_code == 404

    accepted = transfer(env, answer, granted["registration_number"])
    assert accepted.status_code == 201, accepted.json
    body = accepted.json
    assert body["document"]["registration_number"] == answer["registration_number"]
    assert body["consent"]["registration_number"] == granted["registration_number"]
    assert body["third_party"] == THIRD_PARTY and body["authority"] == "KZ-MVD"
    with env.services.database.reading() as session:
        [row] = session.execute(select(Transfer)).scalars()
        assert row.document_id == answer["id"] and row.consent_id == granted["id"]
        actions = session.execute(
            select(AuditEntry.action).where(AuditEntry.target == answer["id"])
        ).scalars()
        assert "document.transfer" in list(actions)
    # The consent documents joined the case of the response.
    case = get(env, "/api/v1/cases").json["items"]
    timeline = get(env, case[0]["links"]["self"]).json["timeline"]
    assert asked["registration_number"] in [d["registration_number"] for d in timeline]
    assert granted["registration_number"] in [d["registration_number"] for d in timeline]


def test_transfer_needs_a_json_body_and_an_api_key(env: Env) -> None:
    request = post(env, REQUEST, "KZ-MVD")
    url = f"{request['links']['self']}/transfers"
    headers = {"X-API-Key": env.keys["KZ-MVD"]}
    assert env.client.post(url, data="x", headers=headers).status_code == 415
    not_json = env.client.post(
        url, data="x", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json["details"][0]["code"] == "not_an_object"
    empty = env.client.post(url, json={"third_party": " "}, headers=headers)
    assert empty.status_code == 400 and len(empty.json["details"]) == 2
    assert env.client.post(url, json={}).status_code == 401
