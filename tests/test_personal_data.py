"""Free text that looks like personal data outside the person blocks is flagged (Art. 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.paths import SAMPLES_DIR
from service.pipeline.personal_data import warnings
from service.pipeline.xmlinput import load

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_text(encoding="utf-8")


def _with_summary(text: str) -> str:
    start = REQUEST.index("<summary>") + len("<summary>")
    return REQUEST[:start] + text + " " + REQUEST[start:]


def _found(raw: str) -> list[tuple[str, str]]:
    return [(w.path, w.message) for w in warnings(load(raw.encode("utf-8")).root)]


@pytest.mark.parametrize("path", sorted(SAMPLES_DIR.glob("*.xml")), ids=lambda p: p.name)
def test_no_sample_is_flagged(path: Path) -> None:
    # Person blocks (passport numbers, birth dates) and legal entities (БИН) are not free text.
    assert warnings(load(path.read_bytes()).root) == ()


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("паспорт N12345678", "a passport or identity document number"),
        ("документ MP 4417702", "a passport or identity document number"),
        ("ИИН 850312300123", "an individual identification number (ИИН)"),
        ("личный номер 3120588A001PB1", "a Belarusian personal identification number"),
        ("Иванов И. И., 12.03.1985 г.р.", "a date of birth"),
        ("1985 года рождения", "a date of birth"),
        ("дата рождения: 1985-03-12", "a date of birth"),
        ("родился 7.3.1991 в г. Гродно", "a date of birth"),
    ],
)
def test_identifiers_in_free_text_are_flagged_and_masked(text: str, what: str) -> None:
    [(path, message)] = _found(_with_summary(text))
    assert path == "/request/summary"
    assert what in message and "<person>" in message
    digits = "".join(c for c in text if c.isdigit())
    assert digits[-6:] not in message  # the value is masked


@pytest.mark.parametrize(
    "text",
    [
        "запрос № KZ-MVD-2026-000001 от 20.11.2026",
        "решение от 28.10.2026 по статье 517 КоАП",
        "в 2025 году выявлено 1234567 пересечений границы",
        "приказ № 703 от 25 сентября 2019 года",
    ],
)
def test_ordinary_numbers_and_dates_are_not_flagged(text: str) -> None:
    assert _found(_with_summary(text)) == []


def test_validate_prints_the_warnings(tmp_path: Path) -> None:
    source = tmp_path / "flagged.xml"
    source.write_text(_with_summary("паспорт N12345678"), encoding="utf-8")
    command = [sys.executable, "-m", "service", "validate", "--json", str(source)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True
    [warning] = report["warnings"]
    assert warning["path"] == "/request/summary" and warning["line"] == 12
