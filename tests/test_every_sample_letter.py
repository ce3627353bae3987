"""Every sample reads as an official letter (issue 12, "Done when").

Each valid sample is rendered as the service issues it — letterhead from registry
versions (the demo requisites), a signature block, its registration number — and its
text is read back with ``pdftotext -layout``, page by page: the requisites, the exact
Agreement title, the running header on one line of every page, no registration number
split across lines, the signature block on a page with text.
"""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.pipeline.document import Document
from service.pipeline.letterhead import Parties, seed_authority
from service.pipeline.rendering import default_renderer, running_header
from service.pipeline.stages import parse_document
from service.pipeline.vocabulary import AGREEMENT_TITLE
from signing.appearance import PARTY_TIMEZONES, SignatureBlockInfo
from signing.demo import DEMO_REQUISITES
from tests.conftest import VALID_SAMPLES

SIGNED_AT = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)
SIGNED_MARK = "ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ"


@dataclasses.dataclass(frozen=True)
class Letter:
    doc: Document
    number: str
    parties: Parties
    pages: list[list[str]]
    """Lines of each page (``-layout``), whitespace runs collapsed."""
    text: str
    """The text in reading order (no ``-layout``): columns are not interleaved."""


def _parties(doc: Document) -> Parties:
    def registered(code: str):  # type: ignore[no-untyped-def]
        return dataclasses.replace(seed_authority(code), requisites=DEMO_REQUISITES[code])

    return Parties(registered(doc.header.sender), registered(doc.header.recipient))


def _render(path: Path, tmp_path: Path) -> Letter:
    raw = path.read_bytes()
    doc = parse_document(raw)
    parties = _parties(doc)
    number = f"{doc.header.sender}-2026-000{len(path.stem):03d}"
    block = SignatureBlockInfo(
        position="Начальник управления",
        full_name="Иванов Иван Иванович",
        full_name_latin="Ivanov Ivan",
        signing_time=SIGNED_AT,
        registration_number=number,
        certificate_serial_hex="1A2B3C",
        certificate_owner="Ivanov Ivan",
        certificate_valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        certificate_valid_to=datetime(2028, 1, 1, tzinfo=UTC),
        verification_url=f"https://migdocs.example/verify?document={number}",
        authority=parties.sender.short_name_ru,
        timezone=PARTY_TIMEZONES[parties.sender.country],
    )
    renderer = default_renderer()
    html = renderer.html(doc, number, signature=block, parties=parties)
    pdf = renderer.pdf(doc, html, raw, number, signature=block, parties=parties).pdf
    file = tmp_path / f"{path.stem}.pdf"
    file.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(file), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = [
        [" ".join(line.split()) for line in page.splitlines() if line.strip()]
        for page in text.split("\f")
        if page.strip()
    ]
    plain = subprocess.run(
        ["pdftotext", str(file), "-"], capture_output=True, text=True, check=True
    ).stdout
    return Letter(doc, number, parties, pages, plain)


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Letter]:
    tmp = tmp_path_factory.mktemp("letters")
    return {path.name: _render(path, tmp) for path in VALID_SAMPLES}


def _flat(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


NAMES = [p.name for p in VALID_SAMPLES]


def test_there_are_samples_of_every_type() -> None:
    types = {parse_document(p.read_bytes()).document_type for p in VALID_SAMPLES}
    assert len(types) >= 12 and len(VALID_SAMPLES) >= 2 * 12


@pytest.mark.parametrize("name", NAMES)
def test_letterhead_carries_the_registry_requisites(letters: dict[str, Letter], name: str) -> None:
    letter = letters[name]
    first = _flat(letter.text.split("\f")[0])
    sender = letter.parties.sender
    requisites = sender.requisites
    assert requisites.name_state and requisites.address_ru and requisites.phone
    for part in (sender.name_ru, requisites.name_state, requisites.address_ru):
        assert _flat(part) in first, part
    assert _flat(f"тел. {requisites.phone}, e-mail: {requisites.email}") in first
    assert _flat(letter.parties.recipient.name_ru) in first
    executor = letter.doc.header.executor
    whole = " ".join(line for page in letter.pages for line in page)
    if executor is not None:
        line = f"Исп. {executor.name}" + (f", тел. {executor.phone}" if executor.phone else "")
        assert line in whole
    else:
        assert "Исп." not in whole


@pytest.mark.parametrize("name", NAMES)
def test_agreement_title_exact(letters: dict[str, Letter], name: str) -> None:
    whole = _flat(" ".join(line for page in letters[name].pages for line in page))
    # cited in any case («Соглашения между …»): everything after its first word, exactly
    assert _flat(AGREEMENT_TITLE.split(" ", 1)[1]) in whole
    assert "осотрудничествевсферемиграции" not in whole


@pytest.mark.parametrize("name", NAMES)
def test_running_header_is_one_line_on_every_page(letters: dict[str, Letter], name: str) -> None:
    letter = letters[name]
    header = running_header(letter.doc, letter.number, SIGNED_AT.date())
    start = header.split(" № ")[0] + " № "
    for number, lines in enumerate(letter.pages, 1):
        # the header stands at the top of the page, whole, on one line (the mark beside
        # it may take two: «ДЛЯ СЛУЖЕБНОГО / ПОЛЬЗОВАНИЯ»)
        (line,) = [line for line in lines[:3] if line.startswith(start)]
        assert header in line, (number, lines[:3])


@pytest.mark.parametrize("name", NAMES)
def test_no_registration_number_is_split(letters: dict[str, Letter], name: str) -> None:
    letter = letters[name]
    numbers = [letter.number]
    reply = getattr(letter.doc, "in_reply_to", None)
    if reply is not None:
        numbers.append(reply.registration_number)
    lines = [line for page in letter.pages for line in page]
    for number in numbers:
        assert any(number in line for line in lines), number
        for line in lines:
            rest = line.replace(number, "")
            for cut in range(4, len(number)):
                # a line that ends with the start, or begins with the end, of the number
                assert not rest.endswith(number[:cut]), (number, line)
                assert not rest.startswith(number[cut:]) or len(number) - cut < 4, (number, line)


@pytest.mark.parametrize("name", NAMES)
def test_signature_block_shares_its_page_with_text(letters: dict[str, Letter], name: str) -> None:
    letter = letters[name]
    (page,) = [p for p in letter.pages if any(SIGNED_MARK in line.upper() for line in p)]
    before = []
    for line in page[1:]:  # after the running header
        if "(электронная подпись)" in line:
            break
        before.append(line)
    assert len(" ".join(before).split()) >= 20, page[:8]
    assert any("статьи 11 Соглашения" in line for line in before)


def test_screenshots_of_every_type_are_committed() -> None:
    """docs/documents/ shows one document of each type (``scripts/document_screenshots.py``)."""
    shots = Path(__file__).resolve().parent.parent / "docs" / "documents"
    index = (shots / "README.md").read_text("utf-8")
    types = {parse_document(p.read_bytes()).document_type for p in VALID_SAMPLES}
    for document_type in sorted(types):
        first = shots / f"{document_type}-page1.png"
        assert first.is_file(), f"{first.name} missing: run scripts/document_screenshots.py"
        assert first.read_bytes().startswith(b"\x89PNG")
        assert f"({first.name})" in index
