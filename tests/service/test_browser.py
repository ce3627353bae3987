"""The officers' pages in a real headless Chromium (Selenium): log in, filter, open,
download — and the downloaded PDF is byte for byte the stored one."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import BaseWSGIServer, make_server

from service.paths import SAMPLES_DIR
from tests.service.conftest import OFFICER_PASSWORD, Env
from tests.service.test_api import with_new_id

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()
TIMEOUT = 30


@dataclass
class Browser:
    driver: WebDriver
    base_url: str
    downloads: Path
    env: Env


@pytest.fixture
def live_server(sqlite_env: Env) -> Iterator[str]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, sqlite_env.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser(sqlite_env: Env, live_server: str, tmp_path: Path) -> Iterator[Browser]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"the browser test needs Debian's chromium and chromium-driver; missing: "
            f"{', '.join(missing)} (apt-get install chromium chromium-driver)"
        )
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "plugins.always_open_pdf_externally": True,
        },
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(TIMEOUT)
        # Belt and braces: headless Chromium honours this even where prefs are ignored.
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        yield Browser(driver, live_server, downloads, sqlite_env)
    finally:
        driver.quit()


def wait_for_download(directory: Path, name: str) -> Path:
    """The finished file (Chromium writes ``*.crdownload`` and renames it when done)."""
    target = directory / name
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        partial = list(directory.glob("*.crdownload"))
        if target.exists() and not partial and target.stat().st_size > 0:
            return target
        time.sleep(0.1)
    raise AssertionError(
        f"download of {name} did not finish in {TIMEOUT} s; "
        f"directory holds {sorted(p.name for p in directory.iterdir())}"
    )


def test_officer_logs_in_filters_opens_and_downloads_the_stored_pdf(browser: Browser) -> None:
    env, driver, base = browser.env, browser.driver, browser.base_url
    posted = []
    for _ in range(3):
        response = env.post_xml(with_new_id(REQUEST))
        assert response.status_code == 201, response.json
        posted.append(response.json)
    wanted = posted[1]
    wait = WebDriverWait(driver, TIMEOUT)

    # Not logged in: the list sends us to the login page, which sends us back.
    driver.get(f"{base}/documents")
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    assert driver.current_url.startswith(f"{base}/login?next=")
    assert "Вход" in driver.title
    driver.find_element(By.ID, "username").send_keys("officer-kz-mvd")
    driver.find_element(By.ID, "password").send_keys(OFFICER_PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "documents")))
    assert driver.current_url == f"{base}/documents"
    assert "Офицер KZ-MVD" in driver.find_element(By.ID, "who").text
    listed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "a.reg-number")]
    assert sorted(listed) == sorted(p["registration_number"] for p in posted)
    assert "Найдено документов: 3" in driver.find_element(By.ID, "total").text

    # Filter by registration number.
    search = driver.find_element(By.ID, "q")
    search.clear()
    search.send_keys(wanted["registration_number"])
    driver.find_element(By.ID, "apply-filters").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "total"), "Найдено документов: 1"))
    [link] = driver.find_elements(By.CSS_SELECTOR, "a.reg-number")
    assert link.text == wanted["registration_number"]

    # Open the document page.
    link.click()
    wait.until(ec.presence_of_element_located((By.ID, "download-pdf")))
    assert driver.current_url == f"{base}/documents/{wanted['id']}"
    assert driver.find_element(By.ID, "registration-number").text == wanted["registration_number"]
    assert driver.find_element(By.ID, "sha256").text == wanted["sha256"]
    assert "Подписан:" in driver.find_element(By.ID, "signature").text

    # Download the PDF and compare it with what the API serves.
    driver.find_element(By.ID, "download-pdf").click()
    downloaded = wait_for_download(
        browser.downloads, f"{wanted['registration_number']}.pdf"
    ).read_bytes()
    stored = env.client.get(wanted["links"]["pdf"], headers={"X-API-Key": env.keys["KZ-MVD"]})
    assert stored.status_code == 200
    assert downloaded == stored.data
    assert hashlib.sha256(downloaded).hexdigest() == wanted["sha256"]
