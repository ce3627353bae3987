"""Regenerate docs/documents/: page 1 and the signature page of one document of each type.

    PYTHONPATH=. .venv/bin/python scripts/document_screenshots.py [--dpi 60]

Each type's first sample (``samples/<type>-*.xml``, sorted) is rendered as the service
issues it: letterhead from the demo registry's requisites (``signing.demo``), a
registration number, the signature block the renderer draws for the signer.  The
cryptographic signature itself adds nothing visible (the block is pre-rendered; the
signer adds an empty widget over it), so it is left out and no keys are needed.
Pages are rasterised with ``pdftoppm`` (poppler-utils) and an index is written to
``docs/documents/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from service.paths import SAMPLES_DIR
from service.pipeline.letterhead import Parties, seed_authority
from service.pipeline.rendering import default_renderer
from service.pipeline.stages import parse_document
from service.pipeline.vocabulary import DOCUMENT_TITLES
from signing.appearance import PARTY_TIMEZONES, SIGNED_MARK, SignatureBlockInfo
from signing.demo import DEMO_REQUISITES, DEMO_SIGNATORIES

OUT = Path(__file__).resolve().parent.parent / "docs" / "documents"
SIGNED_AT = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)


def _registered(code: str):  # type: ignore[no-untyped-def]
    return dataclasses.replace(seed_authority(code), requisites=DEMO_REQUISITES[code])


def render(sample: Path) -> bytes:
    raw = sample.read_bytes()
    doc = parse_document(raw)
    parties = Parties(_registered(doc.header.sender), _registered(doc.header.recipient))
    signer = next(s for s in DEMO_SIGNATORIES if s.signatory_id == doc.header.signatory)
    number = f"{doc.header.sender}-2026-000{len(sample.stem):03d}"
    block = SignatureBlockInfo(
        position=signer.position_ru,
        full_name=signer.full_name_ru,
        full_name_latin=signer.full_name_latin,
        signing_time=SIGNED_AT,
        registration_number=number,
        certificate_serial_hex="5D3A19C07E42B1F6",
        certificate_owner=f"{signer.full_name_ru}, {parties.sender.name_ru}",
        certificate_valid_from=datetime(2026, 1, 15, tzinfo=UTC),
        certificate_valid_to=datetime(2029, 1, 15, tzinfo=UTC),
        verification_url=f"https://migdocs.example/verify?document={number}",
        authority=parties.sender.short_name_ru,
        timezone=PARTY_TIMEZONES[parties.sender.country],
    )
    renderer = default_renderer()
    html = renderer.html(doc, number, signature=block, parties=parties)
    return renderer.pdf(doc, html, raw, number, signature=block, parties=parties).pdf


def signature_page(pdf_path: Path) -> int:
    """1-based number of the page carrying the signature block."""
    text = subprocess.run(
        ["pdftotext", str(pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.split("\f")
    return next(i for i, page in enumerate(pages, 1) if SIGNED_MARK.upper() in page.upper())


def rasterise(pdf_path: Path, page: int, target: Path, dpi: int) -> None:
    pages = ["-f", str(page), "-l", str(page)]
    command = ["pdftoppm", "-png", "-r", str(dpi), *pages, "-singlefile"]
    subprocess.run([*command, str(pdf_path), str(target.with_suffix(""))], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=60)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for document_type, title in DOCUMENT_TITLES.items():
            samples = sorted(SAMPLES_DIR.glob(f"{document_type}-*.xml"))
            samples = [
                s for s in samples if parse_document(s.read_bytes()).document_type == document_type
            ]
            if not samples:
                continue
            pdf_path = Path(tmp) / f"{document_type}.pdf"
            pdf_path.write_bytes(render(samples[0]))
            first = OUT / f"{document_type}-page1.png"
            rasterise(pdf_path, 1, first, args.dpi)
            signed = signature_page(pdf_path)
            cells = [f"[стр. 1]({first.name})"]
            if signed != 1:
                last = OUT / f"{document_type}-signature.png"
                rasterise(pdf_path, signed, last, args.dpi)
                cells.append(f"[стр. {signed}, подпись]({last.name})")
            else:
                cells.append("подпись на стр. 1")
            rows.append(f"| {title} | `{samples[0].name}` | {' · '.join(cells)} |")
    index = [
        "# Как выглядят документы (снимки страниц)",
        "",
        "Сгенерировано `scripts/document_screenshots.py` из образцов `samples/`;",
        "реквизиты бланка — из демонстрационного реестра (`signing/demo.py`).",
        "Страница 1 и страница с подписью.",
        "",
        "| Вид документа | Образец | Страницы |",
        "|---|---|---|",
        *rows,
        "",
    ]
    (OUT / "README.md").write_text("\n".join(index), "utf-8")
    print(f"{len(rows)} document types → {OUT}")


if __name__ == "__main__":
    main()
