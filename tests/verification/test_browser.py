"""/verify in a real headless Chromium: upload a valid and a tampered document, see green
and red, download the reports; the PDF report's own signature (the service's seal)
validates against the demo root."""

from __future__ import annotations

import json
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.service.test_browser import (  # noqa: F401  (fixtures)
    TIMEOUT,
    Browser,
    browser,
    live_server,
    wait_for_download,
)
from tests.verification.conftest import flip_byte_in_signed_range, post_and_fetch
from tests.verification.test_page import validate_seal


def _upload(b: Browser, path: Path) -> None:
    b.driver.get(f"{b.base_url}/verify")
    wait = WebDriverWait(b.driver, TIMEOUT)
    wait.until(ec.presence_of_element_located((By.ID, "verify-form")))
    b.driver.find_element(By.ID, "file").send_keys(str(path))
    b.driver.find_element(By.ID, "verify-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "verdict")))


def _colour(b: Browser, element_id: str) -> str:
    return str(
        b.driver.execute_script(
            "return getComputedStyle(document.getElementById(arguments[0])).borderLeftColor",
            element_id,
        )
    )


def test_verify_page_green_red_and_sealed_report(browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    signed = post_and_fetch(browser.env)
    sha = __import__("hashlib").sha256(signed.pdf).hexdigest()
    valid = tmp_path / "valid.pdf"
    valid.write_bytes(signed.pdf)
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(flip_byte_in_signed_range(signed.pdf))
    driver = browser.driver

    # The QR code of the signature block leads here.
    driver.get(f"{browser.base_url}/verify?document={signed.registration_number}&sha256={sha}")
    WebDriverWait(driver, TIMEOUT).until(ec.presence_of_element_located((By.ID, "document-known")))
    assert driver.find_element(By.ID, "document-sha256").text == sha

    # Valid: green.
    _upload(browser, valid)
    verdict = driver.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-indication") == "TOTAL_PASSED"
    assert driver.find_element(By.ID, "summary").text == "Подпись действительна"
    assert _colour(browser, "verdict") == "rgb(30, 107, 58)"  # --ok
    sig = driver.find_element(By.ID, "signature-1")
    assert "Подпись действительна" in sig.find_element(By.CSS_SELECTOR, ".badge").text
    rows = sig.find_elements(By.CSS_SELECTOR, "tr.check")
    assert len(rows) == 10
    assert not [r for r in rows if r.get_attribute("data-status") == "FAILED"]

    # Download the JSON and the sealed PDF report.
    driver.find_element(By.ID, "download-report-json").click()
    report = json.loads(
        wait_for_download(browser.downloads, f"verification-{sha[:12]}.json").read_text("utf-8")
    )
    assert report["indication"] == "TOTAL_PASSED" and report["sha256"] == sha
    driver.find_element(By.ID, "download-report-pdf").click()
    sealed = wait_for_download(browser.downloads, f"verification-{sha[:12]}.pdf").read_bytes()
    intact, valid_sig, trusted, subject = validate_seal(
        sealed, browser.env.instance / "pki" / "kz-root.pem"
    )
    assert (intact, valid_sig, trusted) == (True, True, True), subject

    # Tampered: red, with the failed integrity check listed.
    _upload(browser, tampered)
    verdict = driver.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-indication") == "TOTAL_FAILED"
    assert _colour(browser, "verdict") == "rgb(155, 28, 28)"  # --error
    assert "недействительна" in driver.find_element(By.ID, "summary").text
    integrity = driver.find_element(By.CSS_SELECTOR, '#signature-1 tr[data-code="integrity"]')
    assert integrity.get_attribute("data-status") == "FAILED"
    assert "не пройдена" in integrity.text
    driver.save_screenshot(str(tmp_path / "tampered.png"))
