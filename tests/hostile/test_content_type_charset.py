"""The ``charset`` of an XML ``Content-Type`` is honoured: it must agree with what the
document declares (BOM or XML declaration), else 415 with both named; never ignored."""

from __future__ import annotations

from service.paths import SAMPLES_DIR
from service.web.httpinput import declared_xml_encoding
from tests.service.conftest import Env, demo_template, sqlite_env  # noqa: F401
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()


def post(env: Env, raw: bytes, content_type: str):  # type: ignore[no-untyped-def]
    return env.client.post(
        "/api/v1/documents",
        data=raw,
        headers={"X-API-Key": env.keys["KZ-MVD"], "Content-Type": content_type},
    )


def test_declared_encoding_of_the_xml() -> None:
    assert declared_xml_encoding(b'<?xml version="1.0" encoding="UTF-8"?><a/>') == "utf-8"
    assert declared_xml_encoding(b"<?xml version='1.0' encoding='windows-1251'?><a/>") == "cp1251"
    assert declared_xml_encoding(b"\xef\xbb\xbf<a/>") == "utf-8"
    assert declared_xml_encoding(b"\xff\xfe<\x00a\x00/\x00>\x00") == "utf-16"
    assert declared_xml_encoding(b"<a/>") == "utf-8"


def test_utf8_charset_is_accepted(sqlite_env: Env) -> None:  # noqa: F811
    for content_type in ("application/xml; charset=utf-8", 'text/xml; charset="UTF-8"'):
        response = post(sqlite_env, with_new_id(REQUEST), content_type)
        assert response.status_code == 201, (content_type, response.json)


def test_a_charset_that_disagrees_with_the_document_is_415(sqlite_env: Env) -> None:  # noqa: F811
    before = sqlite_env.client.get(
        "/api/v1/documents", headers={"X-API-Key": sqlite_env.keys["KZ-MVD"]}
    ).json["total"]
    cases = {
        "application/xml; charset=windows-1251": "cp1251",
        "application/xml; charset=iso-8859-1": "iso8859-1",
        "text/xml; charset=utf-16": "utf-16",
    }
    for content_type, named in cases.items():
        response = post(sqlite_env, with_new_id(REQUEST), content_type)
        assert response.status_code == 415, content_type
        body = response.json
        assert body["error"] == "unsupported_media_type"
        assert "charset" in body["message"] and "utf-8" in body["message"], body
        assert named in body["details"][0]["message"] or named in body["message"]
    unknown = post(sqlite_env, with_new_id(REQUEST), "application/xml; charset=klingon")
    assert unknown.status_code == 415 and "unknown charset" in unknown.json["message"]
    # A windows-1251 document sent as UTF-8 is refused too (it would be misread).
    cp1251 = with_new_id(REQUEST).replace(b'encoding="UTF-8"', b'encoding="windows-1251"', 1)
    assert b"windows-1251" in cp1251
    mismatch = post(sqlite_env, cp1251, "application/xml; charset=utf-8")
    assert mismatch.status_code == 415
    assert "cp1251" in mismatch.json["message"]
    after = sqlite_env.client.get(
        "/api/v1/documents", headers={"X-API-Key": sqlite_env.keys["KZ-MVD"]}
    ).json["total"]
    assert after == before  # nothing was stored
