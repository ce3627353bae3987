"""Published limits: persons, image pixels, pages and render time (issue 10, item 6).

Countable limits are refused before rendering; pages and time after layout, before any
PDF is written.  Every refusal is JSON naming the limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import main
from service.config import load_limits, load_settings
from service.paths import SAMPLES_DIR
from service.pipeline.limits import DEFAULT_LIMITS, Limits

from .conftest import PHOTO_SAMPLE, Env, make_env, sample_text

MULTIPAGE = SAMPLES_DIR / "request-multipage.xml"


@pytest.fixture
def limited(request: pytest.FixtureRequest, demo_template: Path, tmp_path: Path) -> Iterator[Env]:
    url = f"sqlite:///{tmp_path / 'instance' / 'migdocs.sqlite3'}"
    environment = make_env(demo_template, tmp_path, url, request.param)
    yield environment
    environment.services.database.dispose()


def _stored(env: Env, authority: str) -> int:
    listing = env.client.get("/api/v1/documents", headers={"X-API-Key": env.keys[authority]})
    total: int = listing.get_json()["total"]
    return total


def _refusal(env: Env, raw: bytes, authority: str = "KZ-MVD") -> dict[str, object]:
    response = env.post_xml(raw, authority)
    assert response.status_code == 422, response.get_json()
    assert response.content_type == "application/json"
    body: dict[str, object] = response.get_json()
    assert body["error"] == "limit_exceeded"
    assert _stored(env, authority) == 0
    return body


@pytest.mark.parametrize("limited", [{"max_persons": 3}], indirect=True)
def test_too_many_persons_are_refused_before_rendering(limited: Env) -> None:
    started = time.monotonic()
    body = _refusal(limited, MULTIPAGE.read_bytes(), "BY-GPK")
    assert time.monotonic() - started < 2  # 15 persons would take far longer to render
    assert "15 persons" in str(body["message"]) and "3" in str(body["message"])
    assert body["details"][0]["path"] == "/request/persons/person[4]"  # type: ignore[index]


@pytest.mark.parametrize("limited", [{"max_image_pixels": 10_000}], indirect=True)
def test_too_many_pixels_are_refused_before_decoding(limited: Env) -> None:
    body = _refusal(limited, PHOTO_SAMPLE.read_bytes())
    [detail] = body["details"]  # type: ignore[misc]
    assert detail["path"] == "/request/persons/person/photo"
    assert "10000 pixels" in detail["message"]


@pytest.mark.parametrize("limited", [{"max_pages": 1}], indirect=True)
def test_too_many_pages_are_refused_after_layout(limited: Env) -> None:
    body = _refusal(limited, MULTIPAGE.read_bytes(), "BY-GPK")
    assert "pages; the limit is 1" in str(body["message"])


@pytest.mark.parametrize("limited", [{"max_pages": 2}], indirect=True)
def test_text_that_cannot_fit_the_pages_is_refused_before_layout(limited: Env) -> None:
    word = "Ж" * 20000  # at least 4 pages by MAX_CHARS_PER_PAGE
    raw = re.sub(
        r"<summary>.*?</summary>", f"<summary>{word}</summary>", sample_text(), count=1, flags=re.S
    )
    started = time.monotonic()
    body = _refusal(limited, raw.encode())
    assert time.monotonic() - started < 2  # refused without rendering (~5 s)
    assert "at least 4 pages; the limit is 2" in str(body["message"])


@pytest.mark.parametrize("limited", [{"max_render_seconds": 0.001}], indirect=True)
def test_a_render_over_its_time_budget_is_refused(limited: Env) -> None:
    body = _refusal(limited, PHOTO_SAMPLE.read_bytes())
    assert "the limit is 0.001 s" in str(body["message"])


def test_limits_are_settings_with_published_defaults(tmp_path: Path) -> None:
    assert (
        Limits(
            max_xml_bytes=16 * 1024 * 1024,
            max_persons=100,
            max_pages=200,
            max_image_pixels=24_000_000,
            max_total_image_pixels=240_000_000,
            max_render_seconds=60.0,
        )
        == DEFAULT_LIMITS
    )
    environ = {"MIGDOCS_MAX_RENDER_SECONDS": "2.5", "MIGDOCS_MAX_PERSONS": "7"}
    limits = load_limits(environ)
    assert limits.max_render_seconds == 2.5 and limits.max_persons == 7
    settings = load_settings({"instance_dir": str(tmp_path), "max_pages": 9}, environ={})
    assert settings.limits().max_pages == 9


def test_validate_applies_the_configured_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIGDOCS_MAX_PERSONS", "3")
    result = CliRunner().invoke(main, ["validate", str(MULTIPAGE)])
    assert result.exit_code == 1
    assert "limit is 3" in result.output
    monkeypatch.delenv("MIGDOCS_MAX_PERSONS")
    assert CliRunner().invoke(main, ["validate", str(MULTIPAGE)]).exit_code == 0
