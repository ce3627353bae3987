"""The rendered PDF is written with each object serialised and deflated once
(:mod:`service.pipeline.serialise_once`), and its bytes are those pydyf writes itself."""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pydyf
import pytest
import weasyprint

from service.pipeline import rendering
from service.pipeline.stages import render_document
from tests.conftest import VALID_SAMPLES

SAMPLE = next(p for p in VALID_SAMPLES if p.name == "request-legislation.xml")


def _render_counting(monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, int]:
    """The rendered PDF and how many times pydyf started deflating a stream."""
    calls = 0
    original: Callable[..., Any] = zlib.compressobj

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(pydyf.zlib, "compressobj", counting)
    pdf = render_document(SAMPLE.read_bytes(), "KZ-MVD-2026-000001").pdf
    monkeypatch.setattr(pydyf.zlib, "compressobj", original)
    return pdf, calls


def test_each_stream_is_deflated_once_and_the_bytes_do_not_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # attachments are dated when rendered: the same second for both files
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    dated = functools.partial(weasyprint.Attachment, created=at, modified=at)
    monkeypatch.setattr(weasyprint, "Attachment", dated)
    once, deflated_once = _render_counting(monkeypatch)
    with monkeypatch.context() as plain:
        plain.setattr(rendering, "SerialiseOnce", pydyf.PDF)  # pydyf's own writer
        twice, deflated_twice = _render_counting(plain)

    assert once == twice  # /ID included: the MD5 is of the same serialisations
    streams = len(re.findall(rb"/Filter /FlateDecode", once))
    assert streams >= 5  # page content, fonts, ICC profile, XMP, source XML, object streams
    assert deflated_once == streams
    assert deflated_twice > 1.5 * streams  # what the optimisation saves: not a no-op


def test_each_document_gets_its_own_serialisation() -> None:
    """What is kept belongs to each object: another document gets another file and /ID."""
    id_of = re.compile(rb"/ID \[\(([0-9a-f]{32})\)")
    first = render_document(SAMPLE.read_bytes(), "KZ-MVD-2026-000001").pdf
    second = render_document(SAMPLE.read_bytes(), "KZ-MVD-2026-000002").pdf
    first_id, second_id = id_of.search(first), id_of.search(second)
    assert first_id is not None and second_id is not None
    assert first_id.group(1) != second_id.group(1)
