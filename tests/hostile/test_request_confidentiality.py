"""Confidentiality of the fact of a request (Art. 11.1, issue 10 item 9).

``/verify?document=<number>`` reveals nothing beyond "check the file": not whether the
number exists, nor type, date, parties, signatory or hash.  Facts only with the file or
its SHA-256 *together with* the number.  ``/healthz`` shows no counts."""

from __future__ import annotations

import hashlib
import io
import re

from sqlalchemy import select

from service.store.tables import AuditEntry
from tests.service.conftest import Env, demo_template, sqlite_env  # noqa: F401
from tests.service.test_officers import REQUEST, post_ok

SECRETS = (
    "Запрос",
    "Министерство внутренних дел",
    "Подписант",
    "KZ-MVD-001",
    "document-known",
    "неизвестен",
)


def visible(html: str) -> str:
    main = html.split('id="main"', 1)[1]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


def test_a_number_alone_reveals_nothing(sqlite_env: Env) -> None:  # noqa: F811
    env = sqlite_env
    body = post_ok(env, REQUEST)
    number, sha = body["registration_number"], body["sha256"]
    existing = env.client.get("/verify", query_string={"document": number})
    missing = env.client.get("/verify", query_string={"document": "KZ-MVD-1999-000042"})
    assert existing.status_code == missing.status_code == 200
    for page in (existing, missing):
        text = page.get_data(as_text=True)
        assert 'id="document-check-file"' in text and 'id="lookup-form"' in text
        assert sha not in text and body["document_date"] not in text
        for secret in SECRETS:
            assert secret not in visible(text), secret
    # The two pages differ only by the number they echo.
    assert visible(existing.get_data(as_text=True)).replace(number, "N") == visible(
        missing.get_data(as_text=True)
    ).replace("KZ-MVD-1999-000042", "N")


def test_number_with_the_right_hash_shows_the_facts(sqlite_env: Env) -> None:  # noqa: F811
    env = sqlite_env
    body = post_ok(env, REQUEST)
    number, sha = body["registration_number"], body["sha256"]
    page = env.client.get("/verify", query_string={"document": number, "sha256": sha.upper()})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="document-known"' in text
    assert "Запрос" in text and sha in text and "KZ-MVD-001" in text
    # A wrong hash, a malformed one, an unknown number: one and the same answer.
    answers = set()
    for wrong in ("0" * 64, hashlib.sha256(b"x").hexdigest(), "zz", sha[:-1]):
        response = env.client.get("/verify", query_string={"document": number, "sha256": wrong})
        wrong_text = response.get_data(as_text=True)
        assert response.status_code == 200
        assert 'id="document-no-match"' in wrong_text and "Запрос" not in visible(wrong_text)
        answers.add(visible(wrong_text).replace(wrong, "H"))
    unknown = env.client.get(
        "/verify", query_string={"document": "KZ-MVD-1999-000042", "sha256": sha}
    )
    answers.add(
        visible(unknown.get_data(as_text=True))
        .replace("KZ-MVD-1999-000042", number)
        .replace(sha, "H")
    )
    assert len(answers) == 1
    with env.services.database.reading() as db:
        lookups = (
            db.execute(select(AuditEntry).where(AuditEntry.action == "verification.lookup"))
            .scalars()
            .all()
        )
    assert [e.details for e in lookups][:1] == ['{"matched":true}']
    assert len(lookups) == 6


def test_presenting_the_file_shows_the_facts(sqlite_env: Env) -> None:  # noqa: F811
    env = sqlite_env
    body = post_ok(env, REQUEST)
    pdf = env.client.get(body["links"]["pdf"], headers={"X-API-Key": env.keys["KZ-MVD"]}).data
    report = env.client.post(
        "/verify",
        data={"file": (io.BytesIO(pdf), "doc.pdf")},
        content_type="multipart/form-data",
    )
    assert report.status_code == 200
    assert body["registration_number"] in report.get_data(as_text=True)


def test_healthz_shows_no_counts(sqlite_env: Env) -> None:  # noqa: F811
    env = sqlite_env
    post_ok(env, REQUEST)
    response = env.client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert not re.search(rb"\d", response.data)
