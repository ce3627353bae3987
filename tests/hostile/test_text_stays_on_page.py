"""No text leaves the page (issue 10, item 3).

Every sample and a set of stress documents (a 20,000-character word, 100-character names
in Cyrillic and Latin, 500-character numbers and issuers) are rendered for real; poppler
reports the box of every word, and every box lies inside the page.  poppler drops glyphs
lying wholly outside the page, so the stress text is also counted in full.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from service.paths import SAMPLES_DIR
from service.pipeline.rendering import RenderedDocument
from service.pipeline.stages import render_document
from tests import pdfinspect

from .conftest import sample_text

WORD = "Ж" * 20000
ISSUER = "Щ" * 500
CYRILLIC = "Ю" * 100
LATIN = "W" * 100
NUMBER = "N" * 500


def _request_stress() -> str:
    text = re.sub(
        r"<summary>.*?</summary>", f"<summary>{WORD}</summary>", sample_text(), count=1, flags=re.S
    )
    text = re.sub(r"<issuer>[^<]*</issuer>", f"<issuer>{ISSUER}</issuer>", text, count=1)
    for tag in ("surname", "givenName", "patronymic"):
        text = re.sub(
            rf"<{tag}>[А-Яа-яЁё'\- ]+</{tag}>", f"<{tag}>{CYRILLIC}</{tag}>", text, count=1
        )
        text = re.sub(rf"<{tag}>[A-Za-z'\- ]+</{tag}>", f"<{tag}>{LATIN}</{tag}>", text, count=1)
    return text


def _response_stress() -> str:
    text = (SAMPLES_DIR / "response-photo.xml").read_text("utf-8")
    return re.sub(
        r"<registrationNumber>[^<]*</registrationNumber>",
        f"<registrationNumber>{NUMBER}</registrationNumber>",
        text,
        count=1,
    )


STRESS = {"request": _request_stress, "response": _response_stress}
EXPECTED = {"request": {"Ж": 20000, "Щ": 500, "Ю": 300, "W": 300}, "response": {"N": 500}}


def _outside(pdf: bytes, tmp_path: Path) -> tuple[list[pdfinspect.WordBox], str]:
    boxes = pdfinspect.word_boxes(pdf, tmp_path)
    assert boxes, "poppler found no text"
    return [b for b in boxes if not b.inside_page()], "".join(b.text for b in boxes)


def test_no_word_of_any_sample_lies_outside_the_page(
    rendered_samples: dict[str, tuple[bytes, RenderedDocument]], tmp_path: Path
) -> None:
    for name, (_, rendered) in rendered_samples.items():
        outside, _ = _outside(rendered.pdf, tmp_path)
        assert not outside, f"{name}: {outside[:3]}"


@pytest.mark.parametrize("kind", sorted(STRESS))
def test_stress_documents_stay_on_the_page_and_complete(kind: str, tmp_path: Path) -> None:
    raw = STRESS[kind]().encode()
    started = time.monotonic()
    rendered = render_document(raw)
    elapsed = time.monotonic() - started
    outside, text = _outside(rendered.pdf, tmp_path)
    assert not outside, outside[:3]
    for char, count in EXPECTED[kind].items():
        assert text.count(char) >= count, f"{char!r}: {text.count(char)} of {count} printed"
    assert elapsed < 30, f"rendering took {elapsed:.1f} s"
