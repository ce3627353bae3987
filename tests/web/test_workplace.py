"""The officers' actions in the pages (Flask client): check, preview and sign an upload,
answer from a case, record a transfer; Russian error pages; Russian number formatting."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from service.domain.forms import catalogue
from service.domain.workplace import REPLY_SAMPLES
from service.pipeline.xmlinput import NAMESPACE
from service.store.tables import AuditEntry, StoredDocument, Transfer
from service.web.pagekit import days_phrase, ru_number, ru_size
from tests.cases.test_cases_api import REQUEST, RESPONSE, post, reply
from tests.cases.test_transfers import GRANTED, INTERPOL, THIRD_PARTY
from tests.cases.xmltools import rewrite
from tests.service.conftest import Env
from tests.service.test_api import with_new_id
from tests.service.test_officers import csrf_from, login

FORM_FIELD = re.compile(r'name="(xml|mac)" value="([^"]*)"')
NBSP = "\u00a0"


def officer(env: Env, username: str = "officer-kz-mvd") -> tuple[FlaskClient, str]:
    client = env.app.test_client()
    assert login(client, username).status_code == 302
    return client, csrf_from(client, "/documents/new")


def check(client: FlaskClient, token: str, raw: bytes, **extra: str) -> Any:
    return client.post(
        "/documents/check",
        data={"csrf_token": token, "file": (io.BytesIO(raw), "doc.xml"), **extra},
        content_type="multipart/form-data",
    )


def packed(page_text: str) -> dict[str, str]:
    return dict(FORM_FIELD.findall(page_text))


def test_upload_check_preview_and_sign_with_the_officer_as_actor(env: Env) -> None:
    client, token = officer(env)
    raw = with_new_id(REQUEST)
    checked = check(client, token, raw)
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200, text
    assert "Проверка пройдена" in text and "Д'Артаньян-Ковалёва" in text.replace("&#39;", "'")
    fields = packed(text)
    with env.services.database.reading() as db:
        assert db.execute(select(StoredDocument)).first() is None  # nothing signed yet
    preview = client.post("/documents/preview.pdf", data={"csrf_token": token, **fields})
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    assert b"/ByteRange" not in preview.data  # unsigned
    # Without the CSRF token nothing happens; an altered XML is refused.
    assert client.post("/documents/sign", data=fields).status_code == 400
    altered = {**fields, "xml": fields["xml"][:-4] + "AAAA"}
    refused = client.post("/documents/sign", data={"csrf_token": token, **altered})
    assert refused.status_code == 400 and "Загрузите файл заново" in refused.get_data(True)
    signed = client.post("/documents/sign", data={"csrf_token": token, **fields})
    assert signed.status_code == 302
    page = client.get(signed.headers["Location"]).get_data(as_text=True)
    assert "Документ подписан и зарегистрирован." in page
    with env.services.database.reading() as db:
        row = db.execute(select(StoredDocument)).scalar_one()
        actors = db.execute(
            select(AuditEntry.actor).where(AuditEntry.action == "document.create")
        ).scalars()
        assert list(actors) == ["officer:officer-kz-mvd"]
    assert row.registration_number in page and row.upstream_id in page
    # Signing the same bytes again shows the registered document, no second number.
    again = client.post("/documents/sign", data={"csrf_token": token, **fields})
    assert again.headers["Location"].endswith(f"/documents/{row.id}?done=repeated")


def test_upload_errors_name_what_is_wrong(sqlite_env: Env) -> None:
    client, token = officer(sqlite_env)
    broken = check(client, token, b"<request xmlns='urn:nope'>")
    text = broken.get_data(as_text=True)
    assert broken.status_code == 422 and "Документ не прошёл проверку" in text
    invalid = check(client, token, REQUEST.replace(b"<sex>female</sex>", b"<sex>x</sex>"))
    assert invalid.status_code == 422
    assert "строка" in invalid.get_data(as_text=True) and "sex" in invalid.get_data(True)
    foreign = check(client, token, with_new_id(RESPONSE))  # BY-MVD's document
    assert foreign.status_code == 403
    assert "только документы своего органа" in foreign.get_data(as_text=True)
    empty = client.post("/documents/check", data={"csrf_token": token})
    assert empty.status_code == 400 and "Файл не выбран" in empty.get_data(as_text=True)


def test_reply_from_the_case_with_the_prefilled_xml(sqlite_env: Env) -> None:
    env = sqlite_env
    request = post(env, REQUEST, "KZ-MVD")
    case_id = env.client.get("/api/v1/cases", headers={"X-API-Key": env.keys["BY-MVD"]}).json[
        "items"
    ][0]["id"]
    asker, _ = officer(env, "officer-kz-mvd")
    asked_page = asker.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="no-actions"' in asked_page  # the requesting side does not reply
    assert asker.get(f"/cases/{case_id}/reply/response.xml").status_code == 404
    client, token = officer(env, "officer-by-mvd")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="reply-template-response"' in page and 'id="reply-form"' in page
    template = client.get(f"/cases/{case_id}/reply/response.xml")
    assert template.mimetype == "application/xml"
    root = etree.fromstring(template.data)
    ns = {"m": NAMESPACE}
    assert (
        root.findtext("m:inReplyTo/m:registrationNumber", namespaces=ns)
        == (request["registration_number"])
    )
    assert root.findtext("m:header/m:sender", namespaces=ns) == "BY-MVD"
    assert root.findtext("m:header/m:recipient", namespaces=ns) == "KZ-MVD"
    checked = check(client, token, template.data, case_id=case_id)
    assert checked.status_code == 200, checked.get_data(as_text=True)
    assert request["registration_number"] in checked.get_data(as_text=True)
    signed = client.post(
        "/documents/sign", data={"csrf_token": token, **packed(checked.get_data(True))}
    )
    assert signed.status_code == 302
    answered = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="case-status">исполнен<' in answered
    # After a full answer no refusal can be prepared any more.
    assert 'id="reply-template-refusal-notice"' not in answered
    assert client.get(f"/cases/{case_id}/reply/refusal-notice.xml").status_code == 404


def test_transfer_recorded_from_the_document_page_with_consent(sqlite_env: Env) -> None:
    env = sqlite_env
    n1 = post(env, REQUEST, "KZ-MVD")["registration_number"]
    answer = post(env, reply(RESPONSE, n1), "BY-MVD")
    client, token = officer(env)
    url = f"/documents/{answer['id']}/transfers"
    form = {"csrf_token": token, "third_party": THIRD_PARTY}
    missing = client.post(url, data={**form, "consent_registration_number": "BY-MVD-2026-9"})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422 and 'id="transfer-error"' in text
    assert THIRD_PARTY in text  # the form keeps what was typed
    asked = post(
        env,
        rewrite(
            INTERPOL, sender="KZ-MVD", recipient="BY-MVD", documents=[answer["registration_number"]]
        ),
        "KZ-MVD",
    )
    granted = post(env, reply(GRANTED, asked["registration_number"]), "BY-MVD")
    number = granted["registration_number"]
    assert client.post(url, data={"third_party": THIRD_PARTY}).status_code == 400  # CSRF
    done = client.post(url, data={**form, "consent_registration_number": number})
    assert done.status_code == 302
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Передача третьей стороне записана." in page and number in page
    listing = client.get("/transfers").get_data(as_text=True)
    assert answer["registration_number"] in listing and THIRD_PARTY in listing
    with env.services.database.reading() as db:
        assert db.execute(select(Transfer.recorded_by)).scalar_one() == "officer:officer-kz-mvd"
    other, _ = officer(env, "officer-by-gpk")
    assert 'id="no-transfers"' in other.get("/transfers").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/no-such-page", "/documents/nonsense/pdf"])
def test_browsers_get_russian_error_pages_programs_get_json(sqlite_env: Env, path: str) -> None:
    client = sqlite_env.app.test_client()
    login(client)
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = client.get(path, headers=browser)
    assert page.status_code == 404 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "не найден" in text and 'lang="ru"' in text and "Документы" in text
    if not path.startswith("/documents"):  # the officers' pages are HTML for everyone
        assert client.get(path).is_json  # Accept: */* — a program
    api = client.get("/api/v1/documents/nonsense", headers=browser)
    assert api.status_code == 404 and api.is_json


def test_anonymous_start_page_and_public_navigation(sqlite_env: Env) -> None:
    client = sqlite_env.app.test_client()
    assert client.get("/").headers["Location"] == "/verify"
    text = client.get("/verify").get_data(as_text=True)
    for label in ("Проверка подписи", "Образцы бланков", "Уполномоченные лица"):
        assert label in text
    assert ">Документы<" not in text and "Дела и сроки" not in text
    assert 'class="skip-link" href="#main"' in text
    forms = client.get("/forms").get_data(as_text=True)
    names = re.findall(r'class="form-link"[^>]*>(.*?)</a>', forms)
    forms_shown = len(catalogue())  # every type × authority, each «Скачать PDF» named apart
    assert (
        len(names) == forms_shown and len(set(names)) == forms_shown
    )  # each «Скачать PDF» named apart


def test_pages_beyond_the_last_never_say_page_99_of_3(sqlite_env: Env) -> None:
    for _ in range(3):
        assert sqlite_env.post_xml(with_new_id(REQUEST)).status_code == 201
    client, _ = officer(sqlite_env)
    text = client.get("/documents?page_size=1&page=99").get_data(as_text=True)
    assert "из 3" not in text.replace("всего страниц — 3", "")
    assert "Страницы 99 нет" in text


def test_russian_numbers_and_sizes() -> None:
    assert ru_size(57_453) == f"56{NBSP}КБ"
    assert ru_size(812) == f"812{NBSP}байт"
    assert ru_size(1_572_864) == f"1,5{NBSP}МБ"
    assert ru_size(31_457_280) == f"30{NBSP}МБ"
    assert ru_number(1_234_567) == f"1{NBSP}234{NBSP}567"
    assert [days_phrase(n) for n in (1, 3, 5, 11, 21, 22)] == [
        f"1{NBSP}день",
        f"3{NBSP}дня",
        f"5{NBSP}дней",
        f"11{NBSP}дней",
        f"21{NBSP}день",
        f"22{NBSP}дня",
    ]


def test_every_prefilled_reply_passes_the_check(sqlite_env: Env) -> None:
    env = sqlite_env
    post(env, REQUEST, "KZ-MVD")
    case_id = env.client.get("/api/v1/cases", headers={"X-API-Key": env.keys["BY-MVD"]}).json[
        "items"
    ][0]["id"]
    client, token = officer(env, "officer-by-mvd")
    for code in REPLY_SAMPLES:
        template = client.get(f"/cases/{case_id}/reply/{code}.xml")
        assert template.status_code == 200, code
        checked = check(client, token, template.data)
        assert checked.status_code == 200, (code, checked.get_data(as_text=True))
