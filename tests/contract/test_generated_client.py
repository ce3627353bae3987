"""A client generated from the served OpenAPI document (openapi-python-client, at test time,
into a temporary directory) posts a sample and downloads its signed PDF from a live server.

If the description were looser or different from the server, the generated code would
send requests the server refuses or fail to parse its answers.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from service.paths import SAMPLES_DIR
from tests.contract.conftest import _serve
from tests.hostile.live_server import LiveServer

CONFIG = """\
# XML and PDF are bytes to the client (openapi-python-client has no XML models)
content_type_overrides:
  application/xml: application/octet-stream
  application/pdf: application/octet-stream
project_name_override: migdocs-client
package_name_override: migdocs_client
"""


@pytest.fixture
def server(demo_template: Path, tmp_path: Path) -> Iterator[LiveServer]:
    instance = tmp_path / "instance"
    shutil.copytree(demo_template, instance, dirs_exist_ok=True)
    yield from _serve(instance, f"sqlite:///{instance / 'migdocs.sqlite3'}", tmp_path)


def generate_client(server: LiveServer, where: Path) -> ModuleType:
    """Generate the client from the server's own ``/api/v1/openapi.json`` and import it."""
    spec = where / "openapi.json"
    with urllib.request.urlopen(f"{server.base}/api/v1/openapi.json", timeout=30) as answer:
        spec.write_bytes(answer.read())
    config = where / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / "migdocs_client"),
            "--config",
            str(config),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation and answer of the description must be generated, none skipped.
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("migdocs_client")
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def client_package(server: LiveServer, tmp_path: Path) -> Iterator[ModuleType]:
    where = tmp_path / "generated"
    where.mkdir()
    package = generate_client(server, where)
    yield package
    for name in [m for m in sys.modules if m == "migdocs_client" or m.startswith("migdocs_")]:
        del sys.modules[name]


def _op(name: str) -> Any:
    return importlib.import_module(f"migdocs_client.api.default.{name}")


def test_generated_client_posts_a_sample_and_downloads_its_pdf(
    server: LiveServer, client_package: ModuleType
) -> None:
    types = importlib.import_module("migdocs_client.types")
    with client_package.AuthenticatedClient(
        base_url=server.base, token=server.api_key, prefix="", auth_header_name="X-API-Key"
    ) as client:
        talk_to_the_server(client, types)


def talk_to_the_server(client: Any, types: ModuleType) -> None:
    raw = (SAMPLES_DIR / "request-photo.xml").read_bytes()
    body = types.File(payload=io.BytesIO(raw), file_name="request-photo.xml")
    created = _op("create_document").sync_detailed(client=client, body=body)
    assert created.status_code == 201, created.content
    document = created.parsed
    assert document.registration_number == "KZ-MVD-2026-000001"
    assert document.document_type.value == "request"
    assert created.headers["X-Migdocs-Schema-Version"] == "1.0"

    pdf = _op("get_document_pdf").sync_detailed(document_id=document.id, client=client)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert hashlib.sha256(pdf.content).hexdigest() == document.sha256
    etag = pdf.headers["ETag"]
    assert etag == f'"{document.sha256}"'
    again = _op("get_document_pdf").sync_detailed(
        document_id=document.id, client=client, if_none_match=etag
    )
    assert again.status_code == 304 and again.content == b""

    # Found by the upstream documentId, as the description says.
    found = _op("list_documents").sync(client=client, document_id=document.upstream_id)
    assert [d.id for d in found.items] == [document.id]
    assert found.links.next_ is None

    # Another authority's document: 403 with reason wrong-authority, parsed as declared.
    other = (SAMPLES_DIR / "request-legislation.xml").read_bytes()
    refused = _op("create_document").sync_detailed(
        client=client, body=types.File(payload=io.BytesIO(other))
    )
    assert refused.status_code == 403
    detail = refused.parsed.details[0]
    assert detail.code == "wrong-authority" and detail.reason == "wrong-authority"
