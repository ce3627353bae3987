"""Cases through the API (Art. 8–10.3): transitions, deadlines, refusal paths, visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from service.store.tables import AuditEntry, Case
from tests.cases.xmltools import remember, rewrite, sample
from tests.service.conftest import Env

YEAR = datetime.now(UTC).year
REQUEST = sample("request-photo.xml")  # KZ-MVD → BY-MVD
RESPONSE = sample("response-photo.xml")  # BY-MVD → KZ-MVD, outcome full
ADDITIONAL = sample("additional-information-request-person.xml")  # BY-MVD → KZ-MVD
REFUSAL_FULL = sample("refusal-notice-full.xml")  # KZ-MVD → BY-GPK
REFUSAL_PARTIAL = sample("refusal-notice-partial.xml")
POSTPONEMENT = sample("postponement-notice-postpone.xml")
DELAY = sample("delay-notice-obstacle.xml")
AUTHENTICITY = sample("authenticity-confirmation-request-signature.xml")  # KZ-MVD → BY-MVD


def number(authority: str, seq: int) -> str:
    return f"{authority}-{YEAR}-{seq:06d}"


def post(env: Env, raw: bytes, authority: str, status: int = 201) -> dict[str, Any]:
    response = env.post_xml(raw, authority=authority)
    assert response.status_code == status, response.json
    body: dict[str, Any] = response.json
    return remember(body)


def reply(raw: bytes, to: str, **changes: Any) -> bytes:
    """``raw`` rewritten as BY-MVD's reply to KZ-MVD's request ``to``."""
    return rewrite(raw, sender="BY-MVD", recipient="KZ-MVD", reply_to=to, **changes)


def get(env: Env, url: str, authority: str = "KZ-MVD") -> Any:
    return env.client.get(url, headers={"X-API-Key": env.keys[authority]})


def the_case(env: Env, authority: str = "KZ-MVD", **args: str) -> dict[str, Any]:
    listed = get(env, "/api/v1/cases", authority)
    assert listed.status_code == 200
    [item] = listed.json["items"]
    found = get(env, item["links"]["self"], authority)
    assert found.status_code == 200
    body: dict[str, Any] = found.json
    return body


def test_full_case_request_additional_information_response(env: Env) -> None:
    request = post(env, REQUEST, "KZ-MVD")
    assert request["registration_number"] == number("KZ-MVD", 1)
    case = the_case(env)
    today = datetime.now(UTC).date()
    assert case["status"] == "open" and case["requesting"] == "KZ-MVD"
    assert case["requested"] == "BY-MVD"
    assert case["received_on"] == today.isoformat()
    assert case["deadline"] == (today + timedelta(days=30)).isoformat()
    assert case["days_left"] == 30 and case["overdue"] is False

    asked = post(env, reply(ADDITIONAL, request["registration_number"]), "BY-MVD")
    assert the_case(env)["status"] == "awaiting-additional-information"
    answered = post(env, reply(RESPONSE, request["registration_number"]), "BY-MVD")
    case = the_case(env, "BY-MVD")
    assert case["status"] == "answered" and case["overdue"] is False
    assert case["deadline"] == (today + timedelta(days=30)).isoformat()
    assert [
        (d["registration_number"], d["document_type"], d["sender"]) for d in case["timeline"]
    ] == [
        (number("KZ-MVD", 1), "request", "KZ-MVD"),
        (asked["registration_number"], "additional-information-request", "BY-MVD"),
        (answered["registration_number"], "response", "BY-MVD"),
    ]
    assert case["timeline"][2]["links"]["self"] == answered["links"]["self"]
    assert case["request"]["id"] == request["id"]
    with env.services.database.reading() as session:
        reads = session.query(AuditEntry).filter(AuditEntry.action == "case.read").count()
    assert reads == 3


def test_case_ending_in_partial_refusal(env: Env) -> None:
    request = post(env, REQUEST, "KZ-MVD")
    post(env, reply(POSTPONEMENT, request["registration_number"]), "BY-MVD")
    assert the_case(env)["status"] == "postponed"
    refusal = post(env, reply(REFUSAL_PARTIAL, request["registration_number"]), "BY-MVD")
    case = the_case(env)
    assert case["status"] == "partially-refused" and case["overdue"] is False
    assert [d["document_type"] for d in case["timeline"]] == [
        "request",
        "postponement-notice",
        "refusal-notice",
    ]
    assert case["timeline"][-1]["registration_number"] == refusal["registration_number"]
    listed = get(env, "/api/v1/cases?status=partially-refused").json
    assert listed["total"] == 1
    assert get(env, "/api/v1/cases?status=open").json["total"] == 0
    assert get(env, "/api/v1/cases?status=nonsense").status_code == 400


def test_each_transition(sqlite_env: Env) -> None:
    env = sqlite_env

    def status() -> str:
        found: str = the_case(env)["status"]
        return found

    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    assert status() == "open"
    asked = post(env, reply(ADDITIONAL, n1), "BY-MVD")["registration_number"]
    assert status() == "awaiting-additional-information"
    # The requesting side's next document in the case is taken as the answer.
    post(
        env,
        rewrite(AUTHENTICITY, sender="KZ-MVD", recipient="BY-MVD", questioned=asked),
        "KZ-MVD",
    )
    assert status() == "open"
    post(env, reply(POSTPONEMENT, n1), "BY-MVD")
    assert status() == "postponed"
    post(env, reply(DELAY, n1), "BY-MVD")
    assert status() == "postponed"
    post(env, reply(REFUSAL_PARTIAL, n1), "BY-MVD")
    assert status() == "partially-refused"
    post(env, reply(RESPONSE, n1), "BY-MVD")
    assert status() == "partially-refused"
    assert [d["document_type"] for d in the_case(env)["timeline"]] == [
        "request",
        "additional-information-request",
        "authenticity-confirmation-request",
        "postponement-notice",
        "delay-notice",
        "refusal-notice",
        "response",
    ]


def _statuses(env: Env) -> dict[str, str]:
    items = get(env, "/api/v1/cases").json["items"]
    return {c["request"]["registration_number"]: c["status"] for c in items}


def test_full_refusal_closes_the_case_and_full_response_cannot_be_refused(
    env: Env,
) -> None:
    refused = post(env, with_id(REQUEST), "KZ-MVD")["registration_number"]
    answered = post(env, with_id(REQUEST), "KZ-MVD")["registration_number"]
    post(env, reply(REFUSAL_FULL, refused), "BY-MVD")
    post(env, reply(RESPONSE, answered), "BY-MVD")  # BY-MVD 000002
    assert _statuses(env) == {refused: "refused", answered: "answered"}
    for late in (RESPONSE, REFUSAL_FULL, REFUSAL_PARTIAL):
        rejected = post(env, reply(late, refused), "BY-MVD", 422)
        assert rejected["error"] == "inconsistent" and "full refusal" in rejected["message"]
    rejected = post(env, reply(REFUSAL_FULL, answered), "BY-MVD", 422)
    assert "answered in full" in rejected["message"]
    # A supplementary response to an answered request is accepted; no number was lost.
    again = post(env, reply(RESPONSE, answered), "BY-MVD")
    assert again["registration_number"] == number("BY-MVD", 3)
    assert _statuses(env) == {refused: "refused", answered: "answered"}


def with_id(raw: bytes) -> bytes:
    return rewrite(raw)


def test_reply_to_unknown_request_is_422_and_consumes_no_number(env: Env) -> None:
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    unknown = number("KZ-MVD", 99)
    rejected = post(env, reply(RESPONSE, unknown), "BY-MVD", 422)
    assert rejected["error"] == "inconsistent" and unknown in rejected["message"]
    [detail] = rejected["details"]
    assert detail["path"] == "/response/inReplyTo/registrationNumber"
    assert detail["line"] == 12
    # A reply naming a document that is not a request is refused the same way.
    answer = post(env, reply(RESPONSE, n1), "BY-MVD")
    assert answer["registration_number"] == number("BY-MVD", 1)
    not_request = post(env, reply(DELAY, answer["registration_number"]), "BY-MVD", 422)
    assert "is a response" in not_request["details"][0]["message"]
    assert post(env, with_id(REQUEST), "KZ-MVD")["registration_number"] == number("KZ-MVD", 2)
    assert post(env, reply(DELAY, n1), "BY-MVD")["registration_number"] == number("BY-MVD", 2)


def test_reply_from_wrong_authority_is_403_and_to_wrong_one_422(env: Env) -> None:
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    stranger = rewrite(RESPONSE, sender="BY-GPK", recipient="KZ-MVD", reply_to=n1)
    rejected = post(env, stranger, "BY-GPK", 403)
    assert rejected["error"] == "forbidden" and "BY-MVD" in rejected["message"]
    own = rewrite(ADDITIONAL, sender="KZ-MVD", recipient="BY-MVD", reply_to=n1)
    assert post(env, own, "KZ-MVD", 403)["error"] == "forbidden"
    misdirected = rewrite(RESPONSE, sender="BY-MVD", recipient="KZ-MTSZN", reply_to=n1)
    wrong = post(env, misdirected, "BY-MVD", 422)
    assert wrong["details"][0]["path"] == "/response/header/recipient"
    # Nothing consumed anywhere.
    assert post(env, reply(RESPONSE, n1), "BY-MVD")["registration_number"] == number("BY-MVD", 1)
    assert post(env, with_id(REQUEST), "KZ-MVD")["registration_number"] == number("KZ-MVD", 2)
    post(env, rewrite(REQUEST, sender="BY-GPK", recipient="KZ-MVD"), "BY-GPK")
    assert _statuses(env)[n1] == "answered"


def test_case_is_visible_only_to_its_two_authorities(env: Env) -> None:
    post(env, REQUEST, "KZ-MVD")
    case = the_case(env)
    assert get(env, case["links"]["self"], "BY-MVD").status_code == 200
    for authority in ("BY-GPK", "KZ-MTSZN"):
        response = get(env, case["links"]["self"], authority)
        assert response.status_code == 404 and response.json["error"] == "not_found"
        assert get(env, "/api/v1/cases", authority).json["total"] == 0
    assert get(env, "/api/v1/cases/not-a-uuid").status_code == 404
    assert get(env, "/api/v1/cases/00000000-0000-0000-0000-000000000000").status_code == 404
    assert env.client.get("/api/v1/cases").status_code == 401


def test_overdue_flag_and_filters(sqlite_env: Env) -> None:
    env = sqlite_env
    late = post(env, REQUEST, "KZ-MVD")["registration_number"]
    fresh = post(env, with_id(REQUEST), "KZ-MVD")["registration_number"]
    done = post(env, with_id(REQUEST), "KZ-MVD")["registration_number"]
    post(env, reply(RESPONSE, done), "BY-MVD")
    moved = datetime.now(UTC) - timedelta(days=31)
    with env.services.database.transaction() as session:
        session.execute(
            update(Case).where(Case.request_number.in_([late, done])).values(created_at=moved)
        )
    items = {
        c["request"]["registration_number"]: c for c in get(env, "/api/v1/cases").json["items"]
    }
    assert items[late]["overdue"] is True and items[late]["days_left"] == -1
    assert items[fresh]["overdue"] is False and items[fresh]["days_left"] == 30
    assert items[done]["overdue"] is False  # answered: never overdue
    overdue = get(env, "/api/v1/cases?overdue=true").json
    assert [c["request"]["registration_number"] for c in overdue["items"]] == [late]
    assert get(env, "/api/v1/cases?overdue=false").json["total"] == 1
    assert get(env, "/api/v1/cases?overdue=maybe").status_code == 400
    paged = get(env, "/api/v1/cases?page_size=2&page=2").json
    assert paged["total"] == 3 and len(paged["items"]) == 1
