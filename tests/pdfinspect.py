"""Small readers over PDF bytes used by several test modules (pypdf + poppler tools)."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from pypdf import PdfReader

PREDEFINED_XMP_NAMESPACES = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://purl.org/dc/elements/1.1/",
    "http://ns.adobe.com/xap/1.0/",
    "http://ns.adobe.com/xap/1.0/mm/",
    "http://ns.adobe.com/pdf/1.3/",
    "http://www.aiim.org/pdfa/ns/id/",
    "adobe:ns:meta/",
}
"""XMP schemas PDF/A accepts without an extension schema declaration (those we may use)."""


def reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def xmp(pdf: bytes) -> etree._Element:
    data = reader(pdf).trailer["/Root"]["/Metadata"].get_object().get_data()
    return etree.fromstring(data)


def xmp_properties(root: etree._Element) -> list[str]:
    """Every property (element or attribute) under rdf:Description, as Clark names."""
    rdf = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
    found = []
    for desc in root.iter(f"{rdf}Description"):
        found += [k for k in desc.attrib if not k.startswith(rdf)]
        found += [child.tag for child in desc]
    return found


def text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def fonts(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines()[2:]]


def associated_files(pdf: bytes) -> list[dict[str, object]]:
    """The catalog's /AF entries with name, relationship, MIME subtype and content."""
    catalog = reader(pdf).trailer["/Root"]
    result = []
    for ref in catalog.get("/AF", []):
        spec = ref.get_object()
        stream = spec["/EF"]["/F"].get_object()
        result.append(
            {
                "F": spec.get("/F"),
                "UF": spec.get("/UF"),
                "relationship": spec.get("/AFRelationship"),
                "subtype": stream.get("/Subtype"),
                "data": stream.get_data(),
            }
        )
    return result


@dataclass(frozen=True)
class WordBox:
    """A word poppler found, with its box and its page's size, in PDF points."""

    page: int
    page_width: float
    page_height: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    text: str

    def inside_page(self, tolerance: float = 0.5) -> bool:
        return (
            self.x_min >= -tolerance
            and self.y_min >= -tolerance
            and self.x_max <= self.page_width + tolerance
            and self.y_max <= self.page_height + tolerance
        )


def word_boxes(pdf: bytes, tmp_path: Path) -> list[WordBox]:
    """Every word of every page with its bounding box (``pdftotext -bbox``).

    poppler drops a glyph lying wholly outside the page, so a word cut at the edge shows
    as a box reaching past it and as missing characters: check both.
    """
    path = tmp_path / "boxes.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True
    ).stdout
    root = etree.fromstring(out, etree.XMLParser(recover=True, resolve_entities=False))
    boxes = []
    for number, page in enumerate(root.iter("{*}page"), 1):
        width, height = float(page.get("width", 0)), float(page.get("height", 0))
        for word in page.iter("{*}word"):
            boxes.append(
                WordBox(
                    number,
                    width,
                    height,
                    float(word.get("xMin", 0)),
                    float(word.get("yMin", 0)),
                    float(word.get("xMax", 0)),
                    float(word.get("yMax", 0)),
                    word.text or "",
                )
            )
    return boxes
