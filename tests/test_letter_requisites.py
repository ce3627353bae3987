"""Dates and numbers of a letter agree (issue 12, item 2).

The date next to the registration number is the registration (signing) date in the
sender's local time; the upstream date is labelled as such; the signing time is printed
in local time with its UTC offset; the running header names the document and what it
answers on one line; «№ … от …» never breaks across lines.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.paths import SAMPLES_DIR
from service.pipeline.rendering import default_renderer, running_header
from service.pipeline.stages import parse_document
from signing.appearance import SignatureBlockInfo, block_lines, local_datetime

SIGNED_AT = datetime(2026, 12, 2, 20, 30, tzinfo=UTC)
"""Late evening in UTC: already the next day in Almaty (UTC+5), still 2 Dec in Minsk."""


def _block(number: str, timezone: str) -> SignatureBlockInfo:
    return SignatureBlockInfo(
        position="Начальник Департамента миграционной службы",
        full_name="Ахметов Ержан Серикович",
        full_name_latin="Akhmetov Yerzhan",
        signing_time=SIGNED_AT,
        registration_number=number,
        certificate_serial_hex="1A2B",
        certificate_owner="Akhmetov Yerzhan",
        certificate_valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        certificate_valid_to=datetime(2028, 1, 1, tzinfo=UTC),
        authority="МВД РК",
        timezone=timezone,
    )


def _page_lines(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [" ".join(line.split()) for line in out.splitlines()]


def _render(sample: str, number: str, timezone: str) -> tuple[bytes, str]:
    raw = (SAMPLES_DIR / sample).read_bytes()
    doc = parse_document(raw)
    renderer = default_renderer()
    block = _block(number, timezone)
    html = renderer.html(doc, number, signature=block)
    return renderer.pdf(doc, html, raw, number, signature=block).pdf, html


def test_local_time_carries_its_offset() -> None:
    assert local_datetime(SIGNED_AT, "Asia/Almaty") == "03.12.2026 01:30:00 (UTC+05:00)"
    assert local_datetime(SIGNED_AT, "Europe/Minsk") == "02.12.2026 23:30:00 (UTC+03:00)"
    assert "Дата подписания: 03.12.2026 01:30:00 (UTC+05:00)" in block_lines(
        _block("X", "Asia/Almaty")
    )


@pytest.mark.parametrize(
    ("timezone", "local_date"), [("Asia/Almaty", "03.12.2026"), ("Europe/Minsk", "02.12.2026")]
)
def test_letter_is_dated_with_its_registration_date(
    tmp_path: Path, timezone: str, local_date: str
) -> None:
    pdf, _ = _render("request-photo.xml", "KZ-MVD-2026-000042", timezone)
    text = " ".join(_page_lines(pdf, tmp_path))
    assert f"№ KZ-MVD-2026-000042 от {local_date}" in text
    # the upstream date (20.11.2026 in the sample) is kept, and labelled
    assert "дата составления в системе отправителя: 20.11.2026" in text


def test_running_header_names_the_document_and_its_request_on_one_line(tmp_path: Path) -> None:
    pdf, _ = _render("response-photo.xml", "BY-MVD-2026-000010", "Europe/Minsk")
    doc = parse_document((SAMPLES_DIR / "response-photo.xml").read_bytes())
    assert doc.in_reply_to is not None
    header = running_header(doc, "BY-MVD-2026-000010", SIGNED_AT.date())
    # a reply is named by what it answers, not by its own date (the issue's own example)
    assert header.startswith("Ответ № BY-MVD-2026-000010 на запрос № ")
    assert doc.in_reply_to.registration_number in header
    lines = _page_lines(pdf, tmp_path)
    assert any(header in line for line in lines), [ln for ln in lines[:5]]


def test_registration_numbers_never_break(tmp_path: Path) -> None:
    _, html = _render("refusal-notice-partial.xml", "BY-GPK-2026-000077", "Europe/Minsk")
    doc = parse_document((SAMPLES_DIR / "refusal-notice-partial.xml").read_bytes())
    assert doc.in_reply_to is not None
    ref = doc.in_reply_to.registration_number
    assert f'<span class="ref">№ {ref} от ' in html
    pdf, _ = _render("refusal-notice-partial.xml", "BY-GPK-2026-000077", "Europe/Minsk")
    lines = _page_lines(pdf, tmp_path)
    for number in (ref, "BY-GPK-2026-000077"):
        assert any(number in line for line in lines)
        assert not any(line.endswith(number.split("-")[0] + "-") for line in lines)


def _pages(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [" ".join(page.split()) for page in text.split("\f") if page.strip()]


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES_DIR.glob("*.xml")))
def test_signature_shares_its_page_with_text_and_has_a_signature_line(
    tmp_path: Path, sample: str
) -> None:
    pdf, _ = _render(sample, "KZ-MVD-2026-000042", "Asia/Almaty")
    pages = _pages(pdf, tmp_path)
    (signed_page,) = [p for p in pages if "ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ" in p.upper()]
    # the clause of Art. 11 stands on the same page as the block
    assert "статьи 11 Соглашения" in signed_page
    assert "(электронная подпись) Е.С. Ахметов" in signed_page
    assert "Начальник Департамента миграционной службы МВД РК" in signed_page
    assert ", МВД РК" not in signed_page
    assert "Место электронной подписи" not in " ".join(pages)
