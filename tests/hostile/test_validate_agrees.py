"""``migdocs validate`` exits non-zero on every document the service refuses before
rendering (issue 10, item 10): both run :func:`service.pipeline.stages.intake`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import main

from .conftest import Env, image_bytes, sample_text, with_photo
from .test_images import png_bomb

SUMMARY = "<summary>Просим"


def _unprintable() -> bytes:
    text = sample_text()
    assert SUMMARY in text
    return text.replace(SUMMARY, "<summary>☃ 漢字 Просим", 1).encode()


CASES: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "unprintable-characters": (_unprintable, 422, "inconsistent"),
    "png-bomb": (lambda: with_photo(png_bomb(), "image/png"), 422, "limit_exceeded"),
    "jpeg-junk": (lambda: with_photo(b"\xff\xd8\xff\xe0" + b"junk" * 64), 400, "bad_image"),
    "comment-in-text": (
        lambda: sample_text().replace("Д'Артаньян", "Д'Арт<!-- -->аньян", 1).encode(),
        400,
        "unsafe_xml",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_refuses_what_the_service_refuses(
    sqlite_env: Env, tmp_path: Path, case: str
) -> None:
    make, status, code = CASES[case]
    raw = make()
    response = sqlite_env.post_xml(raw)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] == code
    source = tmp_path / "doc.xml"
    source.write_bytes(raw)
    result = CliRunner().invoke(main, ["validate", "--json", str(source)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["valid"] is False and report["error"] == code
    assert report["details"] == response.get_json()["details"]


def test_validate_names_the_unprintable_characters(tmp_path: Path) -> None:
    source = tmp_path / "doc.xml"
    source.write_bytes(_unprintable())
    result = CliRunner().invoke(main, ["validate", str(source)])
    assert result.exit_code == 1
    assert "U+2603" in result.output and "/request/summary" in result.output


def test_validate_accepts_a_good_cmyk_photo(tmp_path: Path) -> None:
    source = tmp_path / "doc.xml"
    source.write_bytes(with_photo(image_bytes("CMYK", (120, 160), "JPEG")))
    result = CliRunner().invoke(main, ["validate", str(source)])
    assert result.exit_code == 0, result.output
    assert "valid request" in result.output
