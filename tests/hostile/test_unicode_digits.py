"""``page=²`` and friends: integers in queries and paths are ASCII digits only; anything
else is a 400 naming the parameter (API) or a notice (officers' page), never a 500."""

from __future__ import annotations

import pytest

from service.errors import InputError
from service.web.httpinput import ascii_int, int_param
from tests.service.conftest import (  # noqa: F401  (fixtures)
    Env,
    database_url,
    demo_template,
    env,
    sqlite_env,
)
from tests.service.test_officers import login

ODD = ("²", "١٢", "１", "1_000", " 1", "+1", "-1", "0x1", "1" * 40, "", "٣")


def test_ascii_int_accepts_ascii_digits_only() -> None:
    assert ascii_int("0") == 0 and ascii_int("0042") == 42
    for value in ODD:
        assert ascii_int(value) is None, value
    with pytest.raises(InputError) as caught:
        int_param("page", "²", 1, 10)
    assert caught.value.violations[0].path == "?page"


def test_api_lists_answer_400_naming_the_parameter(env: Env) -> None:  # noqa: F811
    headers = {"X-API-Key": env.keys["KZ-MVD"]}
    for path in ("/api/v1/documents", "/api/v1/cases"):
        for name in ("page", "page_size"):
            for value in ODD:
                response = env.client.get(path, query_string={name: value}, headers=headers)
                assert response.status_code == 400, (path, name, value)
                body = response.json
                assert body["error"] == "invalid_input" and name in body["message"]
                assert body["details"][0]["path"] == f"?{name}"
        assert env.client.get(path, query_string={"page": "2"}, headers=headers).status_code == 200


def test_officers_list_shows_a_notice_not_a_500(sqlite_env: Env) -> None:  # noqa: F811
    assert login(sqlite_env.client).status_code == 302
    for value in ODD:
        response = sqlite_env.client.get("/documents", query_string={"page": value})
        text = response.get_data(as_text=True)
        if value == "":
            assert response.status_code == 200
            continue
        assert response.status_code == 200, value
        assert "Неверный номер страницы" in text, value
        size = sqlite_env.client.get("/documents", query_string={"page_size": value})
        assert size.status_code == 200, value


def test_signatory_list_version_in_the_path(sqlite_env: Env) -> None:  # noqa: F811
    for value in ("²", "١", "１", "0"):
        response = sqlite_env.client.get(f"/api/v1/signatories/KZ-MVD/v{value}.pdf")
        assert response.status_code == 404, value
        assert response.json["error"] == "not_found"
