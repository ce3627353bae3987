"""What upstream developers expect of the API besides the documents: declarations that agree
with the checks, conditional GET, paging links, lookup by documentId, exchange filters,
the XSDs over HTTP, and machine-readable codes in errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import jsonschema
import pytest

from service.paths import SAMPLES_DIR, SCHEMA_DIR
from service.store.exchange_tables import Delivery
from service.web import params
from tests.service.conftest import Env
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()

VALUES = [
    "",
    "1",
    "0",
    "500",
    "501",
    "1000001",
    "²",
    "١٢",
    "1_0",
    "-1",
    " 1",
    "true",
    "false",
    "True",
    "request",
    "foo",
    "BY-MVD",
    "2026-11-20",
    "2026-02-30",
    "20261120",
    "2026-11-20T08:00:00Z",
    "2026-11-20t08:00:00.123456789+05:00",
    "2026-11-20T08:00:00",
    "2026-11-20 08:00:00Z",
    "3f1c2a7e-0b5d-4c8e-9a61-2d7f4b9e8c10",
    "3F1C2A7E-0B5D-4C8E-9A61-2D7F4B9E8C10",
    "3f1c2a7e0b5d4c8e9a612d7f4b9e8c10",
    "KZ-MVD-2026",
    "kz mvd",
    "000002\n",
    "a" * 65,
    "outgoing",
    "received",
]


def _accepted_by_check(schema: dict[str, object], value: str) -> bool:
    try:
        params.check(schema, value)
    except Exception:
        return False
    return True


def _accepted_by_json_schema(schema: dict[str, object], value: str) -> bool:
    """What a generated client (or schemathesis) believes: the value, as its declared type."""
    instance: object = value
    if schema["type"] == "integer":
        if not value.isascii() or not value.isdigit():
            return False
        instance = int(value)
    elif schema["type"] == "boolean":
        if value not in ("true", "false"):
            return False
        instance = value == "true"
    elif value == "":
        return False  # no declaration allows an empty value (allowEmptyValue is false)
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$"):
        # JSON Schema patterns are ECMA-262: `$` is the end of the string, where Python's
        # `re` (used by jsonschema) also matches before a final newline.
        schema = {**schema, "pattern": pattern[:-1] + r"\Z"}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return validator.is_valid(instance)


@pytest.mark.parametrize(
    "param",
    [*params.document_filters(), *params.paging(50), *params.case_filters(["open"])],
    ids=lambda p: p.name,
)
def test_the_checks_agree_with_the_declarations(param: params.Param) -> None:
    for value in VALUES:
        by_check = _accepted_by_check(dict(param.schema), value)
        by_schema = _accepted_by_json_schema(dict(param.schema), value)
        assert by_check == by_schema, f"{param.name}={value!r}: {by_check=} {by_schema=}"


def _get(env: Env, url: str, **headers: str):  # type: ignore[no-untyped-def]
    return env.client.get(url, headers={"X-API-Key": env.keys["KZ-MVD"], **headers})


def test_unknown_filters_and_values_are_refused_with_codes(sqlite_env: Env) -> None:
    bad = _get(sqlite_env, "/api/v1/documents?type=foo&date_to=&colour=red&page=0")
    assert bad.status_code == 400
    codes = {d["path"]: d["code"] for d in bad.json["details"]}
    assert codes == {
        "?type": "not_allowed",
        "?date_to": "empty_value",
        "?colour": "unknown_parameter",
        "?page": "out_of_range",
    }
    twice = _get(sqlite_env, "/api/v1/cases?status=open&status=refused")
    assert twice.json["details"][0]["code"] == "repeated_parameter"
    assert _get(sqlite_env, "/api/v1/cases?overdue=1").status_code == 400


def test_wrong_authority_says_so(sqlite_env: Env) -> None:
    refused = sqlite_env.post_xml(REQUEST, authority="BY-MVD")
    assert refused.status_code == 403
    (detail,) = refused.json["details"]
    assert detail["reason"] == detail["code"] == "wrong-authority"
    assert detail["path"] == "/request/header/sender"


def test_conditional_get_of_pdf_xml_and_metadata(env: Env) -> None:
    doc = env.post_xml(REQUEST).json
    for url, media in (
        (doc["links"]["pdf"], "application/pdf"),
        (doc["links"]["xml"], "application/xml"),
        (doc["links"]["self"], "application/json"),
    ):
        first = _get(env, url)
        assert first.status_code == 200 and first.mimetype == media
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert first.headers["Cache-Control"] == "private, no-cache"
        not_modified = _get(env, url, **{"If-None-Match": etag})
        assert not_modified.status_code == 304 and not_modified.data == b""
        assert _get(env, url, **{"If-Modified-Since": modified}).status_code == 304
        assert _get(env, url, **{"If-None-Match": '"other"'}).status_code == 200
        earlier = "Mon, 01 Jan 2024 00:00:00 GMT"
        assert _get(env, url, **{"If-Modified-Since": earlier}).status_code == 200
    pdf = _get(env, doc["links"]["pdf"])
    assert pdf.headers["ETag"] == f'"{doc["sha256"]}"'
    assert _get(env, doc["links"]["xml"]).headers["X-Migdocs-Schema-Version"] == "1.0"


def test_paging_links_and_lookup_by_document_id(sqlite_env: Env) -> None:
    env = sqlite_env
    posted = [env.post_xml(with_new_id(REQUEST)).json for _ in range(3)]
    first = _get(env, "/api/v1/documents?page_size=2&type=request")
    assert first.json["total"] == 3
    next_url = first.json["links"]["next"]
    assert next_url is not None and "page=2" in next_url and "type=request" in next_url
    assert f'<{next_url}>; rel="next"' in first.headers["Link"]
    second = _get(env, next_url)
    assert second.json["links"]["next"] is None
    assert second.json["links"]["prev"] == first.json["links"]["self"]
    assert {d["id"] for d in first.json["items"] + second.json["items"]} == {
        d["id"] for d in posted
    }
    wanted = posted[1]
    found = _get(env, f"/api/v1/documents?document_id={wanted['upstream_id'].upper()}").json
    assert [d["id"] for d in found["items"]] == [wanted["id"]]
    # The recipient sees it too; another authority does not.
    by_recipient = env.client.get(
        f"/api/v1/documents?document_id={wanted['upstream_id']}",
        headers={"X-API-Key": env.keys["BY-MVD"]},
    )
    assert by_recipient.json["total"] == 1
    by_other = env.client.get(
        f"/api/v1/documents?document_id={wanted['upstream_id']}",
        headers={"X-API-Key": env.keys["BY-GPK"]},
    )
    assert by_other.json["total"] == 0


def test_direction_status_and_since(env: Env) -> None:
    doc = env.post_xml(REQUEST).json
    assert _get(env, "/api/v1/documents?direction=outgoing").json["total"] == 1
    assert _get(env, "/api/v1/documents?direction=incoming").json["total"] == 0
    by_recipient = env.client.get(
        "/api/v1/documents?direction=incoming", headers={"X-API-Key": env.keys["BY-MVD"]}
    )
    assert by_recipient.json["total"] == 1
    # Single-node mode: nothing is exchanged, so no document has a delivery state …
    assert _get(env, "/api/v1/documents?status=pending").json["total"] == 0
    # … until a delivery row exists (as the exchange's outbox writes it).
    now = datetime.now(UTC)
    with env.services.database.transaction() as session:
        session.add(
            Delivery(
                document_id=doc["id"],
                party="BY",
                status="delivered",
                attempts=1,
                next_attempt_at=now,
                created_at=now,
            )
        )
    assert _get(env, "/api/v1/documents?status=delivered").json["total"] == 1
    assert _get(env, "/api/v1/documents?status=failed").json["total"] == 0
    assert _get(env, "/api/v1/documents?status=received").json["total"] == 0
    before = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (now + timedelta(minutes=5)).isoformat()
    assert _get(env, f"/api/v1/documents?since={before}").json["total"] == 1
    assert _get(env, f"/api/v1/documents?since={quote(after)}").json["total"] == 0
    naive = _get(env, "/api/v1/documents?since=2026-11-20T08:00:00")
    assert naive.status_code == 400 and naive.json["details"][0]["code"] == "not_a_date_time"


def test_the_xsds_are_served(sqlite_env: Env) -> None:
    listing = sqlite_env.client.get("/api/v1/schemas/")
    assert listing.status_code == 200
    assert listing.headers["X-Migdocs-Schema-Version"] == "1.0"
    body = listing.json
    assert body["namespace"] == "urn:migdocs:kz-by-migration:v1"
    names = {s["name"] for s in body["schemas"]}
    assert names == {p.name for p in SCHEMA_DIR.glob("*.xsd")}
    entry = sqlite_env.client.get(body["entry"])
    assert entry.data == (SCHEMA_DIR / "migdocs.xsd").read_bytes()
    assert entry.mimetype == "application/xml"
    again = sqlite_env.client.get(body["entry"], headers={"If-None-Match": entry.headers["ETag"]})
    assert again.status_code == 304
    assert sqlite_env.client.get("/api/v1/schemas/nope.xsd").status_code == 404
    spec = sqlite_env.client.get("/api/v1/openapi.json").json
    xml_body = spec["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]
    assert "/api/v1/schemas/migdocs.xsd" in xml_body["application/xml"]["schema"]["description"]
    assert "request-photo" in xml_body["application/xml"]["examples"]


def test_method_not_allowed_lists_the_allowed(sqlite_env: Env) -> None:
    answer = sqlite_env.client.delete("/api/v1/documents")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}
