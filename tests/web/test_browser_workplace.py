"""The officers' workplace and the public pages in headless Chromium, at 1280 px and 375 px.

An officer of МВД РБ logs in, finds documents by surname, signs an uploaded XML, answers
a request from its case with the pre-filled XML, records a transfer under a consent and
lists transfers; an anonymous visitor uses the public pages and verifies a signed PDF.
Every page visited is checked by axe-core (no serious or critical violation) and, at
375 px, for horizontal overflow.  With ``PAGE_SCREENSHOTS=<dir>`` every page is also
saved as a full-page PNG (``scripts/screenshots.sh`` regenerates ``docs/screenshots``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select, update

from service.domain.forms import catalogue
from service.store.tables import AuditEntry, Case, StoredDocument
from tests.cases.test_cases_api import REQUEST, RESPONSE, post, reply
from tests.cases.test_transfers import GRANTED, INTERPOL, THIRD_PARTY
from tests.cases.xmltools import rewrite, sample
from tests.service.conftest import OFFICER_PASSWORD, Env
from tests.web.browser import (
    TIMEOUT,
    PageChecks,
    chromium,
    live_server,
    record_progress,
    recorded_progress,
    screenshot_dir,
    wait_for_download,
)

WIDTHS = (1280, 375)
UNSOLICITED = sample("unsolicited-information-legislation.xml")  # BY-MVD → KZ-MTSZN


@pytest.fixture
def server(sqlite_env: Env) -> Iterator[str]:
    yield from live_server(sqlite_env.app)


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def browser(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[WebDriver, Path, int]]:
    width: int = request.param
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium(tmp_path / "profile", downloads, width)
    try:
        yield driver, downloads, width
    finally:
        driver.quit()


def _age(env: Env, request_number: str, days: int) -> None:
    moved = datetime.now(UTC) - timedelta(days=days)
    with env.services.database.transaction() as session:
        session.execute(
            update(Case).where(Case.request_number == request_number).values(created_at=moved)
        )


def _documents(env: Env) -> dict[str, Any]:
    """KZ-MVD's requests to BY-MVD (one overdue, one answered), a consent for a transfer."""
    first = post(env, REQUEST, "KZ-MVD")
    second = post(env, rewrite(REQUEST), "KZ-MVD")
    late = post(env, rewrite(REQUEST), "KZ-MVD")
    answered = post(env, rewrite(REQUEST), "KZ-MVD")
    post(env, reply(RESPONSE, answered["registration_number"]), "BY-MVD")
    _age(env, late["registration_number"], 35)
    _age(env, second["registration_number"], 27)
    asked = post(
        env,
        rewrite(
            INTERPOL, sender="BY-MVD", recipient="KZ-MVD", documents=[first["registration_number"]]
        ),
        "BY-MVD",
    )
    granted = post(
        env,
        rewrite(
            GRANTED,
            sender="KZ-MVD",
            recipient="BY-MVD",
            reply_to=asked["registration_number"],
            reply_date=asked["document_date"],
        ),
        "KZ-MVD",
    )
    return {"first": first, "second": second, "late": late, "granted": granted}


class Walk:
    def __init__(self, driver: WebDriver, base: str, checks: PageChecks) -> None:
        self.driver, self.base, self.checks = driver, base, checks
        self.wait = WebDriverWait(driver, TIMEOUT)

    def open(self, path: str, name: str, ready: str) -> None:
        self.driver.get(self.base + path)
        self.until(ready)
        self.checks.check(name)

    def until(self, element_id: str) -> Any:
        return self.wait.until(ec.presence_of_element_located((By.ID, element_id)))

    def text(self, element_id: str) -> str:
        return str(self.until(element_id).text)

    def click(self, element_id: str) -> None:
        element = self.until(element_id)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()


def test_officer_walks_every_action(
    sqlite_env: Env, server: str, browser: tuple[WebDriver, Path, int], tmp_path: Path
) -> None:
    env = sqlite_env
    driver, downloads, width = browser
    made = _documents(env)
    checks = PageChecks(driver, width, "officer", screenshot_dir())
    walk = Walk(driver, server, checks)

    # Log in (the page wanted comes back after the login).
    walk.open("/cases", "login", "login-submit")
    driver.find_element(By.ID, "username").send_keys("officer-by-mvd")
    driver.find_element(By.ID, "password").send_keys(OFFICER_PASSWORD)
    walk.click("login-submit")
    walk.until("cases")
    checks.check("cases")
    rows = driver.find_elements(By.CSS_SELECTOR, "#cases a.reg-number")
    numbers = [r.text for r in rows]
    late, second = made["late"]["registration_number"], made["second"]["registration_number"]
    assert numbers.index(late) < numbers.index(second)  # earliest deadline first
    assert "Просрочено: 1" in walk.text("filter-overdue")
    walk.click("filter-overdue")
    walk.wait.until(lambda d: "attention=overdue" in d.current_url)
    assert [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#cases a.reg-number")] == [late]

    # Documents: everything received is new at the first visit; search by surname.
    walk.open("/documents", "documents", "documents")
    assert driver.find_elements(By.CSS_SELECTOR, ".tag-new")
    search = driver.find_element(By.ID, "q")
    search.send_keys("Kovaleva")
    walk.click("apply-filters")
    walk.wait.until(
        ec.text_to_be_present_in_element((By.ID, "total"), "Найдено документов: 5")
    )  # 4 requests, 1 response
    checks.check("documents-search")

    # Upload an XML, see it checked, preview it, sign it.
    walk.open("/documents/new", "upload", "upload-form")
    upload = tmp_path / "unsolicited.xml"
    upload.write_bytes(rewrite(UNSOLICITED))
    driver.find_element(By.ID, "file").send_keys(str(upload))
    record_progress(driver, "upload-form-progress")
    walk.click("upload-submit")
    walk.until("check-ok")
    assert "Загрузка и проверка документа" in (
        recorded_progress(driver, "upload-form-progress") or ""
    )
    checks.check("preview")
    record_progress(driver, "sign-form-progress")
    walk.click("sign-submit")
    assert "подписан и зарегистрирован" in walk.text("done-message")
    assert "Регистрация и подписание" in (recorded_progress(driver, "sign-form-progress") or "")
    checks.check("document-signed")
    signed_number = walk.text("registration-number")
    with env.services.database.reading() as db:
        row = db.execute(
            select(StoredDocument).where(StoredDocument.registration_number == signed_number)
        ).scalar_one()
        actor = db.execute(
            select(AuditEntry.actor).where(
                AuditEntry.action == "document.create", AuditEntry.target == row.id
            )
        ).scalar_one()
    assert actor == "officer:officer-by-mvd" and row.sender == "BY-MVD"

    # Answer a request from its case: the pre-filled XML, uploaded back, signed.
    walk.open("/cases", "cases-again", "cases")
    driver.find_element(By.LINK_TEXT, second).click()
    walk.until("reply-templates")
    checks.check("case")
    walk.click("reply-template-delay-notice")
    template = wait_for_download(downloads, ".xml")
    driver.find_element(By.ID, "reply-file").send_keys(str(template))
    walk.click("reply-submit")
    assert second in walk.text("preview-reply-to")
    walk.click("sign-submit")
    walk.until("done-message")
    assert walk.text("case-link") == second
    walk.click("case-link")
    timeline = walk.text("timeline")
    assert (
        "Уведомление о продлении" in timeline
        or "delay" in timeline
        or len(driver.find_elements(By.CSS_SELECTOR, "#timeline li")) == 2
    )

    # Record a transfer of KZ-MVD's request under KZ-MVD's consent, then list transfers.
    walk.open(f"/documents/{made['first']['id']}", "document", "transfer-form")
    driver.find_element(By.ID, "third_party").send_keys(THIRD_PARTY)
    driver.find_element(By.ID, "consent_registration_number").send_keys(
        made["granted"]["registration_number"]
    )
    walk.click("transfer-submit")
    assert "Передача третьей стороне записана" in walk.text("done-message")
    assert THIRD_PARTY in walk.text("transfer-list")
    checks.check("document-transfer")
    walk.open("/transfers", "transfers", "transfers")
    assert made["first"]["registration_number"] in walk.text("transfers")

    # A page that does not exist: Russian, with the navigation.
    walk.open("/no-such-page", "error-404", "error-message")
    assert "Страница не найдена" in driver.title

    assert checks.problems == [], "\n".join(checks.problems)


def test_anonymous_visitor_uses_the_public_pages(
    sqlite_env: Env, server: str, browser: tuple[WebDriver, Path, int], tmp_path: Path
) -> None:
    env = sqlite_env
    driver, _, width = browser
    document = post(env, REQUEST, "KZ-MVD")
    pdf = tmp_path / "document.pdf"
    pdf.write_bytes(env.services.storage.get(f"{document['id']}.pdf"))
    checks = PageChecks(driver, width, "public", screenshot_dir())
    walk = Walk(driver, server, checks)

    driver.get(server + "/")
    walk.until("verify-form")
    assert driver.current_url == f"{server}/verify"
    checks.check("verify")
    nav = walk.text("site-nav")
    for label in ("Проверка подписи", "Образцы бланков", "Уполномоченные лица"):
        assert label in nav
    assert "Дела и сроки" not in nav
    # The check shows that it is running, then the report.
    driver.find_element(By.ID, "file").send_keys(str(pdf))
    record_progress(driver, "verify-form-progress")
    walk.click("verify-submit")
    walk.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".verdict-card")))
    shown = recorded_progress(driver, "verify-form-progress") or ""
    assert "Идёт проверка подписи" in shown, shown
    checks.check("verify-report")
    walk.open(
        f"/verify?document={document['registration_number']}&sha256={document['sha256']}",
        "verify-lookup",
        "document-known",
    )
    walk.open("/forms", "forms", "form-version")
    names = [
        e.get_attribute("textContent") for e in driver.find_elements(By.CSS_SELECTOR, ".form-link")
    ]
    assert len(names) == len(catalogue()) and len(set(names)) == len(catalogue())
    walk.open("/signatories", "signatories", "authority-KZ-MVD")
    walk.open("/login", "login-page", "login-submit")
    walk.open("/no-such-page", "public-404", "error-message")

    # The skip link is the first stop of the keyboard and becomes visible.
    driver.get(server + "/forms")
    walk.until("form-version")
    driver.find_element(By.TAG_NAME, "body").send_keys("\ue004")  # Tab
    focused = driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip-link"
    assert focused.is_displayed() and focused.rect["y"] >= 0
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"

    assert checks.problems == [], "\n".join(checks.problems)


def test_the_page_checks_catch_overflow_and_accessibility_faults(
    browser: tuple[WebDriver, Path, int],
) -> None:
    """The harness itself: a page with known faults must be reported."""
    driver, _, width = browser
    faulty = (
        "<!doctype html><html lang='en'><head><title>x</title></head><body>"
        "<div style='width: 2000px'>wide</div><img src='data:,'>"
        "<input type='text'><p style='color:%23eee;background:%23fff'>pale</p></body></html>"
    )
    driver.get("data:text/html;charset=utf-8," + faulty)
    checks = PageChecks(driver, width, "selftest")
    checks.check("faulty")
    found = "\n".join(checks.problems)
    assert "lang='en'" in found
    assert "px wide at" in found
    if width < 600:  # no <meta name=viewport>: a phone lays the page out wider
        assert f"not {width} px" in found
    assert "image-alt" in found and "label" in found and "color-contrast" in found
