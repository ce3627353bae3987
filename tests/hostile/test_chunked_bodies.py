"""Chunked bodies over the limit get 413 JSON on every upload endpoint — never a silent cut
at MAX_CONTENT_LENGTH and a 200 DAMAGED_PDF (issue 10 item 7, issue 9 item 9).

Both through the Flask client (the middleware alone) and over a real socket to a real
``migdocs serve`` (gunicorn's chunked decoder in front of it).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.paths import SAMPLES_DIR
from tests.hostile.live_server import LiveServer, chunked, live_server, request_bytes, send_all
from tests.service.conftest import Env, demo_template, sqlite_env  # noqa: F401
from tests.service.test_api import with_new_id

LIMIT = 256 * 1024
BOUNDARY = "migdocs-boundary"


def multipart(payload: bytes) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def uploads(payload: bytes) -> list[tuple[str, str, bytes]]:
    """(path, content type, body) of every upload endpoint, for ``payload``."""
    pdf = b"%PDF-1.7\n" + payload
    return [
        ("/api/v1/verifications", "application/pdf", pdf),
        ("/api/v1/verifications", f"multipart/form-data; boundary={BOUNDARY}", multipart(pdf)),
        ("/verify", f"multipart/form-data; boundary={BOUNDARY}", multipart(pdf)),
        ("/api/v1/documents", "application/xml", b"<?xml version='1.0'?><a>" + payload + b"</a>"),
    ]


@pytest.fixture
def small_limit_env(sqlite_env: Env) -> Env:  # noqa: F811
    from service.web.bodylimit import ChunkedBodyLimit

    sqlite_env.app.config["MAX_CONTENT_LENGTH"] = LIMIT
    middleware = sqlite_env.app.wsgi_app
    assert isinstance(middleware, ChunkedBodyLimit)
    middleware.limit = LIMIT
    return sqlite_env


def chunked_post(env: Env, path: str, content_type: str, body: bytes) -> Any:
    return env.client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={
            "Content-Type": content_type,
            "Transfer-Encoding": "chunked",
            "X-API-Key": env.keys["KZ-MVD"],
        },
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_flask_chunked_over_the_limit_is_413_everywhere(small_limit_env: Env) -> None:
    env = small_limit_env
    for path, content_type, body in uploads(b"x" * (LIMIT + 10)):
        assert len(body) > LIMIT
        response = chunked_post(env, path, content_type, body)
        assert response.status_code == 413, (path, content_type, response.data[:300])
        assert response.json["error"] == "too_large", path
        assert str(LIMIT) in response.json["message"]


def test_flask_chunked_exactly_at_the_limit_is_read_whole(small_limit_env: Env) -> None:
    env = small_limit_env
    pdf = b"%PDF-1.7\n"
    body = pdf + b"x" * (LIMIT - len(pdf))
    response = chunked_post(env, "/api/v1/verifications", "application/pdf", body)
    assert response.status_code == 200
    assert response.json["size"] == LIMIT  # all of it, not a prefix
    # One byte more: refused, not cut.
    response = chunked_post(env, "/api/v1/verifications", "application/pdf", body + b"x")
    assert response.status_code == 413


def test_flask_chunked_document_within_the_limit_is_created(sqlite_env: Env) -> None:  # noqa: F811
    raw = with_new_id((SAMPLES_DIR / "request-photo.xml").read_bytes())
    response = chunked_post(sqlite_env, "/api/v1/documents", "application/xml", raw)
    assert response.status_code == 201, response.json


@pytest.fixture(scope="module")
def server(
    demo_template: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    with live_server(
        demo_template, tmp_path_factory.mktemp("chunked"), max_content_length=str(LIMIT)
    ) as running:
        yield running


def test_real_server_chunked_over_the_limit_is_413_everywhere(server: LiveServer) -> None:
    for path, content_type, body in uploads(b"x" * (LIMIT + 10)):
        raw = request_bytes(
            "POST",
            path,
            {
                "Content-Type": content_type,
                "Transfer-Encoding": "chunked",
                "X-API-Key": server.api_key,
            },
            chunked(body),
        )
        response = send_all(server, raw)
        assert response.status == 413, (path, content_type, response.body[:300])
        assert response.json()["error"] == "too_large"


def test_real_server_declared_length_over_the_limit_is_413(server: LiveServer) -> None:
    for path, content_type, body in uploads(b"x" * (LIMIT + 10)):
        raw = request_bytes(
            "POST",
            path,
            {
                "Content-Type": content_type,
                "Content-Length": str(len(body)),
                "X-API-Key": server.api_key,
            },
            body,
        )
        response = send_all(server, raw)
        assert response.status == 413, (path, content_type, response.body[:300])
        assert response.json()["error"] == "too_large"


def test_real_server_chunked_within_the_limit_is_verified_whole(server: LiveServer) -> None:
    body = b"%PDF-1.7\n" + b"x" * 100_000
    raw = request_bytes(
        "POST",
        "/api/v1/verifications",
        {"Content-Type": "application/pdf", "Transfer-Encoding": "chunked"},
        chunked(body, size=7000),
    )
    response = send_all(server, raw)
    assert response.status == 200 and response.json()["size"] == len(body)
