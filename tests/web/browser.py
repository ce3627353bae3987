"""Headless Debian Chromium (Selenium) for the page tests: a live server, exact viewport
widths, axe-core checks, overflow checks and full-page screenshots."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text("utf-8")
TIMEOUT = 60
SCREENSHOTS_ENV = "PAGE_SCREENSHOTS"
"""Directory to save a full-page PNG of every page visited (``scripts/screenshots.sh``)."""


def live_server(app: Flask) -> Iterator[str]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def chromium(profile: Path, downloads: Path, width: int) -> WebDriver:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise AssertionError(
            f"the browser tests need Debian's chromium and chromium-driver; missing: "
            f"{', '.join(missing)} (apt-get install chromium chromium-driver)"
        )
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
        "--hide-scrollbars",
        "--lang=ru-RU",
        f"--window-size={width},900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "plugins.always_open_pdf_externally": True,
            "intl.accept_languages": "ru-RU,ru",
        },
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(TIMEOUT)
    driver.set_script_timeout(TIMEOUT)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
    )
    # The layout viewport is exactly ``width`` CSS pixels (a phone at 375).
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    return driver


@dataclass
class PageChecks:
    """What every visited page is checked for; problems are collected, then asserted."""

    driver: WebDriver
    width: int
    label: str
    shots: Path | None = None
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def check(self, name: str) -> None:
        """axe-core (no serious/critical violation), no horizontal overflow, screenshot."""
        driver = self.driver
        self.visited.append(name)
        lang = driver.execute_script("return document.documentElement.lang")
        if lang != "ru":
            self.problems.append(f"{name}: <html lang={lang!r}>")
        overflow = driver.execute_script(
            "const d = document.documentElement;"
            "return [d.scrollWidth, d.clientWidth, window.innerWidth];"
        )
        if overflow[2] != self.width:
            self.problems.append(f"{name}: viewport {overflow[2]} px, not {self.width} px")
        if overflow[0] > overflow[1]:
            wide = driver.execute_script(
                "const w = document.documentElement.clientWidth; return Array.from("
                "document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect()"
                ".right > w + 1).slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
            )
            self.problems.append(f"{name}: {overflow[0]} px wide at {overflow[1]} px: {wide}")
        driver.execute_script(AXE)
        result: dict[str, Any] = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
            " help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e),"
            " nodes: []}]));"
        )
        for violation in result:
            if violation["impact"] in ("serious", "critical"):
                self.problems.append(
                    f"{name}: axe {violation['impact']} {violation['id']}: "
                    f"{violation['help']} {violation['nodes']}"
                )
        if self.shots is not None:
            screenshot(driver, self.shots / f"{name}-{self.width}.png")


def screenshot(driver: WebDriver, path: Path) -> None:
    """The whole page, not only the viewport."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], 6000),
                "scale": 1,
            },
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def screenshot_dir() -> Path | None:
    value = os.environ.get(SCREENSHOTS_ENV)
    return Path(value) if value else None


def wait_for_download(directory: Path, suffix: str) -> Path:
    """The finished download ending in ``suffix``."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        partial = list(directory.glob("*.crdownload"))
        done = [p for p in directory.glob(f"*{suffix}") if p.stat().st_size > 0]
        if done and not partial:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} download in {TIMEOUT} s: {sorted(directory.iterdir())}")


RECORD_PROGRESS = """
const id = arguments[0];
sessionStorage.removeItem('progress:' + id);
new MutationObserver((changes, observer) => {
  const box = document.getElementById(id);
  if (box) { sessionStorage.setItem('progress:' + id, box.textContent); observer.disconnect(); }
}).observe(document.body, {childList: true, subtree: true});
"""


def record_progress(driver: WebDriver, element_id: str) -> None:
    """Remember the progress box ``element_id`` when it appears, in ``sessionStorage``
    (which outlives the page the form's answer replaces): no race with a fast server."""
    driver.execute_script(RECORD_PROGRESS, element_id)


def recorded_progress(driver: WebDriver, element_id: str) -> str | None:
    value = driver.execute_script(
        "return sessionStorage.getItem(arguments[0])", f"progress:{element_id}"
    )
    return None if value is None else str(value)
