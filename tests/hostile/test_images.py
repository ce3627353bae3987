"""Photos and fingerprint cards are decoded before anything is signed (issue 10, item 2).

Every image here is a real file made by Pillow (or a real PNG header made by hand for the
bomb, whose pixels would not fit in memory); the service answers through the API.
"""

from __future__ import annotations

import io
import struct
import time
import zlib

from PIL import Image
from pypdf import PdfReader

from service.pipeline.images import MAX_PHOTO_SIDE, Where, printable_photo
from service.pipeline.limits import DEFAULT_LIMITS
from service.pipeline.rendering import default_renderer
from service.pipeline.stages import intake

from .conftest import Env, image_bytes, with_card, with_photo

PHOTO_PATH = "/request/persons/person/photo"
CARD_PATH = "/request/persons/person/fingerprintCard"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A well-formed PNG header announcing width×height 8-bit grey pixels (a few rows of
    data follow; decoding it would need ``width × height`` bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def _refused(env: Env, raw: bytes, status: int, code: str, path: str) -> dict[str, object]:
    before = env.client.get("/api/v1/documents", headers={"X-API-Key": env.keys["KZ-MVD"]})
    response = env.post_xml(raw)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == code
    assert any(d["path"] == path and d["line"] for d in body["details"]), body
    after = env.client.get("/api/v1/documents", headers={"X-API-Key": env.keys["KZ-MVD"]})
    assert after.get_json()["total"] == before.get_json()["total"]  # nothing stored
    return body


def test_png_bomb_is_refused_from_its_header_before_decoding(env: Env) -> None:
    started = time.monotonic()
    body = _refused(env, with_photo(png_bomb(), "image/png"), 422, "limit_exceeded", PHOTO_PATH)
    assert time.monotonic() - started < 5
    assert "30000×30000" in str(body["details"])
    assert str(DEFAULT_LIMITS.max_image_pixels) in str(body["details"])


def test_png_header_followed_by_svg_is_refused(sqlite_env: Env) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    fake = b"\x89PNG\r\n\x1a\n" + svg
    body = _refused(sqlite_env, with_photo(fake, "image/png"), 400, "bad_image", PHOTO_PATH)
    assert "PNG" in str(body["details"])


def test_jpeg_header_followed_by_junk_is_refused(sqlite_env: Env) -> None:
    fake = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
    _refused(sqlite_env, with_photo(fake), 400, "bad_image", PHOTO_PATH)


def test_truncated_jpeg_is_refused(sqlite_env: Env) -> None:
    whole = image_bytes("RGB", (240, 320), "JPEG", noise=True, quality=90)
    body = _refused(sqlite_env, with_photo(whole[: len(whole) // 2]), 400, "bad_image", PHOTO_PATH)
    assert "does not decode" in body["message"]


def test_cmyk_jpeg_is_printed_in_srgb(sqlite_env: Env) -> None:
    cmyk = image_bytes("CMYK", (240, 320), "JPEG", quality=90)
    assert Image.open(io.BytesIO(cmyk)).mode == "CMYK"
    response = sqlite_env.post_xml(with_photo(cmyk))
    assert response.status_code == 201, response.get_json()
    pdf = sqlite_env.client.get(
        response.get_json()["links"]["pdf"], headers={"X-API-Key": sqlite_env.keys["KZ-MVD"]}
    ).data
    assert b"/DeviceCMYK" not in pdf
    images = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for image in page.images:
            images.append(image.image)
    photo = [i for i in images if i.size == (240, 320)]
    assert photo, "the photo itself is printed, not its alt text"
    assert all(i.mode in ("RGB", "L") for i in photo)


def test_fake_pdf_fingerprint_card_is_refused(sqlite_env: Env) -> None:
    fake = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nthis is not a PDF\n%%EOF\n"
    body = _refused(sqlite_env, with_card(fake, "application/pdf"), 400, "bad_image", CARD_PATH)
    assert "does not parse" in str(body["details"])
    not_even_magic = b"GIF89a" + b"\x00" * 64
    _refused(sqlite_env, with_card(not_even_magic, "application/pdf"), 400, "bad_image", CARD_PATH)


def test_real_pdf_and_image_cards_are_accepted() -> None:
    buffer = io.BytesIO()
    Image.new("L", (100, 140), 255).save(buffer, format="PDF")
    printable = default_renderer().printable
    doc, _ = intake(with_card(buffer.getvalue(), "application/pdf"), printable)
    card = doc.persons[0].fingerprint_card
    assert card is not None and card.data == buffer.getvalue()  # attached unchanged
    png = image_bytes("L", (100, 140), "PNG")
    doc, _ = intake(with_card(png, "image/png", "card.png"), printable)
    assert doc.persons[0].fingerprint_card is not None


def test_large_photo_is_printed_scaled_down() -> None:
    big = image_bytes("RGB", (MAX_PHOTO_SIDE * 2, MAX_PHOTO_SIDE), "JPEG", quality=60)
    printed = printable_photo(big, "image/jpeg", Where(1, PHOTO_PATH), DEFAULT_LIMITS)
    assert Image.open(io.BytesIO(printed)).size == (MAX_PHOTO_SIDE, MAX_PHOTO_SIDE // 2)
    small = image_bytes("RGB", (240, 320), "JPEG")
    assert printable_photo(small, "image/jpeg", Where(1, PHOTO_PATH), DEFAULT_LIMITS) is small
