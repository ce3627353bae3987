"""Security headers on EVERY HTML page: walk every GET route of the url_map, anonymously and
as an officer, plus error pages; and no inline script/style/handler in any template."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import url_for

from service.paths import TEMPLATE_DIR
from tests.service.conftest import Env, demo_template, sqlite_env  # noqa: F401
from tests.service.test_officers import REQUEST, login, post_ok

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HTML_PAGES = {
    "/verify",
    "/forms",
    "/signatories",
    "/login",
    "/documents",
    "/documents/<document_id>",
    "/cases",
    "/cases/<case_id>",
    "/documents/new",
    "/transfers",
}
"""Pages that must be among those checked (the walk finds them; this guards the walk)."""


def check_html_headers(response: Any, where: str) -> None:
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (where, csp)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    script = directives.get("script-src", directives.get("default-src", ""))
    style = directives.get("style-src", directives.get("default-src", ""))
    for policy in (script, style):
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, (where, csp)
    assert "'none'" in directives.get("default-src", ""), (where, csp)


def args_for(rule: Any, values: dict[str, str]) -> dict[str, str]:
    return {name: values[name] for name in rule.arguments}


def test_every_html_page_has_the_security_headers(sqlite_env: Env) -> None:  # noqa: F811
    env = sqlite_env
    body = post_ok(env, REQUEST)
    officer = env.app.test_client()
    assert login(officer).status_code == 302
    case_list = env.client.get("/api/v1/cases", headers={"X-API-Key": env.keys["KZ-MVD"]}).json[
        "items"
    ]
    values = {
        "document_id": body["id"],
        "case_id": case_list[0]["id"],
        "authority": "KZ-MVD",
        "version": "1",
        "document_type": "request",
        "filename": "migdocs.css",
        "reply_type": "response",
        "job_id": "00000000-0000-4000-8000-000000000000",  # JSON 404s, not HTML pages
        "webhook_id": "00000000-0000-4000-8000-000000000000",
        "ca": "kz-root",
        "name": "kz-root",
        "encoded": "AA",
        "sha256": "0" * 64,  # a received sample form: 404
    }
    seen_html: set[str] = set()
    with env.app.test_request_context():
        for rule in env.app.url_map.iter_rules():
            if "GET" not in (rule.methods or set()):
                continue
            url = url_for(rule.endpoint, **args_for(rule, values))
            for who, client in (("anonymous", env.app.test_client()), ("officer", officer)):
                response = client.get(url)
                response.close()  # static files are streamed from an open file
                assert response.status_code < 500, (url, who)
                assert response.headers.get("X-Content-Type-Options") == "nosniff", (url, who)
                if response.mimetype == "text/html":
                    check_html_headers(response, f"{who} {url}")
                    seen_html.add(rule.rule)
    assert seen_html >= HTML_PAGES, HTML_PAGES - seen_html


def test_error_pages_and_verification_results_have_them_too(sqlite_env: Env) -> None:  # noqa: F811
    env = sqlite_env
    officer = env.app.test_client()
    login(officer)
    missing = officer.get("/documents/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    check_html_headers(missing, "officer 404")
    bad_csrf = env.app.test_client().post("/login", data={"username": "x", "password": "y"})
    assert bad_csrf.status_code == 400 and bad_csrf.mimetype == "text/html"
    check_html_headers(bad_csrf, "CSRF 400")
    no_file = env.client.post("/verify", data={}, content_type="multipart/form-data")
    assert no_file.status_code == 400
    check_html_headers(no_file, "verify 400")
    report = env.client.post(
        "/verify",
        data={"file": (io.BytesIO(b"not a pdf"), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert report.status_code == 200 and report.mimetype == "text/html"
    check_html_headers(report, "verify report")


INLINE = re.compile(
    r"<script(?![^>]*\ssrc=\"\{\{ url_for\('static')|<style|\son[a-z]+\s*=|\sstyle\s*=|javascript:",
    re.IGNORECASE,
)


def test_no_inline_script_style_or_handlers_in_web_templates() -> None:
    offenders = []
    for path in sorted((TEMPLATE_DIR / "web").rglob("*.html")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if INLINE.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
