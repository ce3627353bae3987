"""Officers' web pages (Flask test client): login, CSRF, document list, page, downloads."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from service.domain.auth import add_officer, disable_officer
from service.paths import SAMPLES_DIR
from service.store.tables import AuditEntry
from service.web.officers import page_links, safe_next
from tests.service.conftest import OFFICER_PASSWORD, Env
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()  # KZ-MVD → BY-MVD, 20.11.2026
RESPONSE = (SAMPLES_DIR / "response-photo.xml").read_bytes()  # BY-MVD → KZ-MVD, 24.11.2026
# KZ-MVD → BY-GPK, 18.11.2026: information sent without a request, which needs no case
# (a refusal would need BY-GPK's request first).
REFUSAL = (
    (SAMPLES_DIR / "unsolicited-information-organisers.xml")
    .read_bytes()
    .replace(b"<documentDate>2026-11-05<", b"<documentDate>2026-11-18<")
)
LEGISLATION = (SAMPLES_DIR / "request-legislation.xml").read_bytes()  # KZ-MTSZN → BY-MVD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW_RE = re.compile(r'class="reg-number">([^<]+)</a>')


def csrf_from(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, "no CSRF field on the page"
    return html.unescape(match.group(1))


def login(
    client: FlaskClient,
    username: str = "officer-kz-mvd",
    password: str = OFFICER_PASSWORD,
    **extra: str,
) -> Any:
    token = csrf_from(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, **extra},
    )


def numbers_on(page_text: str) -> list[str]:
    return ROW_RE.findall(page_text)


def post_ok(env: Env, raw: bytes, authority: str = "KZ-MVD") -> dict[str, Any]:
    response = env.post_xml(raw, authority)
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


# ----- login and sessions ------------------------------------------------------------------


def test_login_page_and_successful_login(env: Env) -> None:
    page = env.client.get("/login")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Вход для сотрудников" in text and 'lang="ru"' in text
    visible = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    assert "migdocs — документы по Соглашению РК–РБ о сотрудничестве в области миграции" in visible
    response = login(env.client)
    assert response.status_code == 302 and response.headers["Location"] == "/documents"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    listing = env.client.get("/documents")
    text = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert "Офицер KZ-MVD" in text and "МВД РК" in text and "Выйти" in text
    assert "Документов пока нет." in text and "Найдено документов: <strong>0</strong>" in text
    assert listing.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in listing.headers["Content-Security-Policy"]
    # Already logged in: the login page sends the officer on.
    again = env.client.get("/login")
    assert again.status_code == 302 and again.headers["Location"] == "/documents"
    assert env.client.get("/").headers["Location"] == "/documents"


def test_wrong_password_or_unknown_user_is_401(env: Env) -> None:
    for username, password in (
        ("officer-kz-mvd", "wrong password!"),
        ("nobody", OFFICER_PASSWORD),
        ("officer-kz-mvd", ""),
        ("x" * 500, OFFICER_PASSWORD),
    ):
        response = login(env.client, username, password)
        text = response.get_data(as_text=True)
        assert response.status_code == 401, username
        assert "Неверное имя пользователя или пароль" in text
        assert "Выйти" not in text
    assert env.client.get("/documents").status_code == 302


def test_unauthenticated_pages_redirect_to_login(env: Env) -> None:
    # Anonymous visitors start at the public verification page (issue 13).
    assert env.client.get("/").headers["Location"] == "/verify"
    for path in ("/documents", "/documents/00000000-0000-0000-0000-000000000000/pdf"):
        response = env.client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    response = env.client.get("/documents?type=request&q=KZ")
    assert response.headers["Location"] == "/login?next=/documents?type%3Drequest%26q%3DKZ"
    # ... and after logging in the officer lands where they wanted to go.
    done = login(env.client, next="/documents?type=request&q=KZ")
    assert done.headers["Location"] == "/documents?type=request&q=KZ"


def test_disabled_officer_cannot_log_in_and_loses_the_session(env: Env) -> None:
    assert login(env.client).status_code == 302
    assert env.client.get("/documents").status_code == 200
    with env.services.database.transaction() as session:
        disable_officer(session, "officer-kz-mvd")
    response = env.client.get("/documents")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    api = env.client.get("/api/v1/documents")
    assert api.status_code == 401
    again = login(env.client)
    assert again.status_code == 401
    assert "Неверное имя пользователя или пароль" in again.get_data(as_text=True)


def test_logout_ends_the_session(env: Env) -> None:
    login(env.client)
    token = csrf_from(env.client, "/documents")
    response = env.client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert env.client.get("/documents").status_code == 302


def test_login_attempts_are_audited_with_address(env: Env) -> None:
    client = env.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert login(client, "officer-by-mvd", "not the password").status_code == 401
    assert login(client, "officer-by-mvd").status_code == 302
    with env.services.database.reading() as session:
        entries = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["login.success", "login.failure"]))
                .order_by(AuditEntry.seq)
            )
            .scalars()
            .all()
        )
    assert [(e.action, e.actor, e.target, e.address) for e in entries] == [
        ("login.failure", "anonymous", "officer-by-mvd", "203.0.113.7"),
        ("login.success", "officer:officer-by-mvd", "officer-by-mvd", "203.0.113.7"),
    ]
    assert all("not the password" not in e.details for e in entries)


# ----- CSRF and redirects ------------------------------------------------------------------


def test_posts_without_the_csrf_token_are_400(env: Env) -> None:
    data = {"username": "officer-kz-mvd", "password": OFFICER_PASSWORD}
    fresh = env.app.test_client()  # no session at all
    response = fresh.post("/login", data=data)
    assert response.status_code == 400
    assert "Сеанс устарел, обновите страницу" in response.get_data(as_text=True)
    token = csrf_from(env.client)
    for bad in ({}, {"csrf_token": ""}, {"csrf_token": token + "x"}, {"csrf_token": "A" * 43}):
        response = env.client.post("/login", data={**data, **bad})
        assert response.status_code == 400, bad
    assert env.client.get("/documents").status_code == 302  # none of those logged in
    # Logout without a token does nothing either.
    assert login(env.client).status_code == 302
    assert env.client.post("/logout").status_code == 400
    assert env.client.get("/documents").status_code == 200
    # A token of another session is no good.
    other = env.app.test_client()
    other_token = csrf_from(other)
    response = env.client.post("/logout", data={"csrf_token": other_token})
    assert response.status_code == 400


def test_no_open_redirect_after_login(sqlite_env: Env) -> None:
    env = sqlite_env
    for evil in (
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https:/evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ):
        client = env.app.test_client()
        response = login(client, next=evil)
        assert response.status_code == 302
        assert response.headers["Location"] == "/documents", evil
        # Logged in already, the GET form must not bounce elsewhere either.
        bounce = client.get("/login", query_string={"next": evil})
        assert bounce.headers["Location"] == "/documents", evil
        page = env.app.test_client().get("/login", query_string={"next": evil})
        assert "evil.example" not in page.get_data(as_text=True)
    with env.app.test_request_context():
        assert safe_next("/documents/abc?x=1") == "/documents/abc?x=1"
        assert safe_next(None) == safe_next("") == safe_next("documents") == "/documents"


def test_page_links() -> None:
    assert page_links(1, 3) == [1, 2, 3]
    assert page_links(10, 20) == [1, 2, None, 8, 9, 10, 11, 12, None, 19, 20]
    assert page_links(1, 20) == [1, 2, 3, None, 19, 20]


# ----- documents ---------------------------------------------------------------------------


def test_list_shows_only_own_authority_sent_and_received(env: Env) -> None:
    sent = post_ok(env, REQUEST, "KZ-MVD")
    received = post_ok(env, RESPONSE, "BY-MVD")
    other = post_ok(env, LEGISLATION, "KZ-MTSZN")
    login(env.client)
    text = env.client.get("/documents").get_data(as_text=True)
    assert sorted(numbers_on(text)) == sorted(
        [sent["registration_number"], received["registration_number"]]
    )
    assert other["registration_number"] not in text
    assert "Найдено документов: <strong>2</strong>" in text
    assert "МВД РК" in text and "МВД РБ" in text and "20.11.2026" in text
    assert "Запрос" in text and "Ответ на запрос" in text
    assert "исходящий" in text and "входящий" in text
    # BY-GPK has nothing: the empty state.
    gpk = env.app.test_client()
    login(gpk, "officer-by-gpk")
    empty = gpk.get("/documents").get_data(as_text=True)
    assert "Документов пока нет." in empty and numbers_on(empty) == []


def test_another_authoritys_document_is_404(env: Env) -> None:
    doc = post_ok(env, REQUEST, "KZ-MVD")
    login(env.client, "officer-kz-mtszn")
    for suffix in ("", "/pdf", "/xml"):
        response = env.client.get(f"/documents/{doc['id']}{suffix}")
        assert response.status_code == 404, suffix
        text = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and "Документ не найден" in text
        assert doc["registration_number"] not in text
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert env.client.get(f"/documents/{missing}").status_code == 404
    # The recipient sees it.
    recipient = env.app.test_client()
    login(recipient, "officer-by-mvd")
    assert recipient.get(f"/documents/{doc['id']}").status_code == 200


def test_document_page_and_downloads(env: Env) -> None:
    doc = post_ok(env, REQUEST, "KZ-MVD")
    login(env.client)
    page = env.client.get(f"/documents/{doc['id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for expected in (
        doc["registration_number"],
        "Министерство внутренних дел Республики Казахстан",
        "Министерство внутренних дел Республики Беларусь",
        doc["sha256"],
        "20.11.2026",
        f"Подписан: {doc['signatory']['name']}, ",
        "Скачать PDF",
        "Скачать XML",
        f'href="/documents/{doc["id"]}/pdf"',
        f'href="/documents/{doc["id"]}/xml"',
    ):
        assert expected in text, expected
    api = env.client.get(doc["links"]["pdf"], headers={"X-API-Key": env.keys["KZ-MVD"]})
    pdf = env.client.get(f"/documents/{doc['id']}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == api.data and pdf.data.startswith(b"%PDF-")
    assert pdf.headers["Content-Disposition"] == (
        f'attachment; filename="{doc["registration_number"]}.pdf"'
    )
    xml = env.client.get(f"/documents/{doc['id']}/xml")
    assert xml.data == REQUEST and xml.mimetype == "application/xml"
    assert xml.headers["Content-Disposition"].startswith("attachment;")
    with env.services.database.reading() as session:
        reads = session.execute(
            select(AuditEntry.action).where(
                AuditEntry.actor == "officer:officer-kz-mvd", AuditEntry.target == doc["id"]
            )
        ).scalars()
        assert sorted(reads) == ["document.read.meta", "document.read.pdf", "document.read.xml"]


def test_filters_and_pagination(sqlite_env: Env) -> None:
    env = sqlite_env
    requests = [post_ok(env, with_new_id(REQUEST)) for _ in range(3)]  # 20.11.2026
    refusal = post_ok(env, REFUSAL)  # to BY-GPK, 18.11.2026
    response = post_ok(env, RESPONSE, "BY-MVD")  # 24.11.2026
    post_ok(env, LEGISLATION, "KZ-MTSZN")  # not ours
    login(env.client)

    def listed(**args: str) -> list[str]:
        page = env.client.get("/documents", query_string=args)
        assert page.status_code == 200, args
        return numbers_on(page.get_data(as_text=True))

    everything = listed()
    assert len(everything) == 5
    assert listed(type="unsolicited-information") == [refusal["registration_number"]]
    assert listed(type="response") == [response["registration_number"]]
    assert listed(counterpart="BY-GPK") == [refusal["registration_number"]]
    assert len(listed(counterpart="BY-MVD")) == 4
    assert listed(date_to="2026-11-19") == [refusal["registration_number"]]
    assert listed(date_from="2026-11-21") == [response["registration_number"]]
    assert len(listed(date_from="2026-11-20", date_to="2026-11-20")) == 3
    target = requests[1]["registration_number"]
    assert listed(q=target) == [target]
    assert listed(q=target.lower()[-6:]) == [target]
    assert listed(q="%") == [] and listed(q="_") == []
    assert listed(type="request", counterpart="BY-GPK") == []
    nothing = env.client.get("/documents", query_string={"q": "NO-SUCH"}).get_data(as_text=True)
    assert "По заданным условиям документы не найдены." in nothing
    # The form shows the filters that are applied.
    form = env.client.get("/documents?type=response&counterpart=BY-MVD&date_from=2026-11-01")
    form_text = form.get_data(as_text=True)
    assert '<option value="response" selected>' in form_text
    assert '<option value="BY-MVD" selected>' in form_text
    assert 'value="2026-11-01"' in form_text
    # Bad values are reported, not fatal.
    bad = env.client.get("/documents?date_from=2026-13-45&type=nonsense&page=zero")
    bad_text = bad.get_data(as_text=True)
    assert bad.status_code == 200 and len(numbers_on(bad_text)) == 5
    assert "должно содержать дату" in bad_text and "Неизвестный тип документа" in bad_text

    # Pagination: 2 per page → 3 pages, no document twice, filters kept in the links.
    pages = [listed(page_size="2", page=str(n)) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(n for p in pages for n in p) == sorted(everything)
    first = env.client.get("/documents?page_size=2&counterpart=BY-MVD").get_data(as_text=True)
    assert "страница 1 из 2" in first
    assert 'href="/documents?counterpart=BY-MVD&amp;page_size=2&amp;page=2"' in first
    beyond = env.client.get("/documents?page_size=2&page=9").get_data(as_text=True)
    assert numbers_on(beyond) == [] and "Перейти на последнюю страницу" in beyond


def test_officer_names_are_escaped(sqlite_env: Env) -> None:
    env = sqlite_env
    with env.services.database.transaction() as session:
        add_officer(session, "mallory", "<script>alert(1)</script>", "BY-GPK", OFFICER_PASSWORD)
    login(env.client, "mallory")
    text = env.client.get("/documents").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    css = env.client.get("/static/migdocs.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()
