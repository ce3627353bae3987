"""The documents speak the Agreement's language (issue 12, items 4 and 7).

Read from the rendered text of every valid sample (``pdftotext``): the Agreement's exact
title, the use limitation of Art. 11.2–11.3 in its own words, Russian names for every
country code, categories agreeing with the person's sex, no tautological headings; and
Art. 5 at intake: only citizens of the Parties.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.errors import InconsistentDocument
from service.pipeline.countries import COUNTRIES_RU
from service.pipeline.stages import parse_document
from service.pipeline.vocabulary import CATEGORIES, CATEGORIES_FEMALE, PURPOSE_LIMITATION_CLAUSE
from tests import pdfinspect
from tests.conftest import VALID_SAMPLES

SAMPLE_NAMES = [p.name for p in VALID_SAMPLES]


def _flat(text: str) -> str:
    """Letters and digits only: lines may break and hyphenate anywhere in the PDF."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_agreement_title_clause_and_countries(name, rendered_samples, tmp_path) -> None:
    raw, rendered = rendered_samples[name]
    text = " ".join(pdfinspect.text(rendered.pdf, tmp_path).split())
    flat = _flat(text)
    assert _flat("о сотрудничестве в области миграции") in flat
    assert "сотрудничестве в сфере миграции" not in text
    assert _flat(PURPOSE_LIMITATION_CLAUSE) in flat
    assert "ОТВЕТ НА ЗАПРОС о результатах исполнения запроса" not in text
    doc = parse_document(raw)
    codes = set(re.findall(rb"<(?:citizenship|previousCitizenship|country)>([A-Z]{3})<", raw))
    for code in sorted(c.decode() for c in codes):
        assert _flat(COUNTRIES_RU[code]) in flat, code
    for person in doc.persons:
        table = CATEGORIES_FEMALE if person.sex == "female" else CATEGORIES
        assert _flat(table[person.category]) in flat, (person.name_latin, person.sex)


def test_female_persons_get_feminine_categories() -> None:
    samples = [parse_document(p.read_bytes()) for p in VALID_SAMPLES]
    women = [p for d in samples for p in d.persons if p.sex == "female"]
    assert women, "the samples must include women to check the agreement"
    assert all(CATEGORIES_FEMALE[p.category] != CATEGORIES[p.category] for p in women)


def test_every_iso_code_has_a_russian_name() -> None:
    assert len(COUNTRIES_RU) >= 249
    assert COUNTRIES_RU["DEU"] == "Федеративная Республика Германия"
    assert COUNTRIES_RU["POL"] == "Республика Польша"
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in COUNTRIES_RU)
    assert all(re.search("[а-яё]", n) for n in COUNTRIES_RU.values())


def _with_citizenship(sample: Path, old: str, new: str) -> bytes:
    raw = sample.read_bytes()
    assert old.encode() in raw
    return raw.replace(old.encode(), new.encode(), 1)


@pytest.mark.parametrize("code", ["UZB", "CHN", "XXA", "RUS"])
def test_third_country_national_is_refused(sample_path: Path, code: str) -> None:
    raw = _with_citizenship(
        sample_path, "<citizenship>BLR</citizenship>", f"<citizenship>{code}</citizenship>"
    )
    with pytest.raises(InconsistentDocument) as caught:
        parse_document(raw)
    (violation,) = caught.value.violations
    assert violation.path == "/request/persons/person/citizenship"
    assert "Art. 5" in violation.message and code in violation.message


def test_missing_citizenship_is_refused(sample_path: Path) -> None:
    raw = _with_citizenship(sample_path, "<citizenship>BLR</citizenship>", "")
    with pytest.raises(InconsistentDocument) as caught:
        parse_document(raw)
    (violation,) = caught.value.violations
    assert violation.path == "/request/persons/person"
    assert "citizenship is required" in violation.message


def test_previous_citizenship_only_for_category_three(sample_path: Path) -> None:
    raw = _with_citizenship(
        sample_path,
        "<citizenship>BLR</citizenship>",
        "<citizenship>BLR</citizenship><previousCitizenship>UZB</previousCitizenship>",
    )
    with pytest.raises(InconsistentDocument) as caught:
        parse_document(raw)
    (violation,) = caught.value.violations
    assert violation.path == "/request/persons/person/previousCitizenship"
    assert "only for category 'citizenship'" in violation.message
    allowed = raw.replace(
        b"<category>temporary-stay</category>", b"<category>citizenship</category>"
    )
    assert allowed != raw
    doc = parse_document(allowed)
    assert doc.persons[0].previous_citizenship == "UZB"
