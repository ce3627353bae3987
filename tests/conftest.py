from __future__ import annotations

from pathlib import Path

import pytest

from service.paths import SAMPLES_DIR
from service.pipeline.rendering import RenderedDocument
from service.pipeline.stages import render_document

VALID_SAMPLES = sorted(SAMPLES_DIR.glob("*.xml"))


@pytest.fixture(scope="session")
def rendered_samples() -> dict[str, tuple[bytes, RenderedDocument]]:
    """Every valid sample rendered once per test session (rendering is the slow part)."""
    result = {}
    for path in VALID_SAMPLES:
        raw = path.read_bytes()
        result[path.name] = (raw, render_document(raw, f"TEST-{path.stem}"))
    return result


@pytest.fixture
def sample_path() -> Path:
    return SAMPLES_DIR / "request-photo.xml"
