"""Hostile inputs reuse the service fixtures (demo PKI, SQLite and PostgreSQL apps)."""

from __future__ import annotations

import base64
import io
import random
import re

from PIL import Image

from service.paths import SAMPLES_DIR
from tests.service.conftest import (  # noqa: F401 - fixtures used by the tests here
    Env,
    database_url,
    demo_template,
    env,
    make_env,
    sqlite_env,
)

PHOTO_SAMPLE = SAMPLES_DIR / "request-photo.xml"


def sample_text() -> str:
    return PHOTO_SAMPLE.read_text("utf-8")


def with_photo(data: bytes, media_type: str = "image/jpeg") -> bytes:
    """The photo sample with its photo replaced by ``data``."""
    encoded = base64.b64encode(data).decode()
    text = re.sub(
        r'<photo mediaType="[^"]*">.*?</photo>',
        f'<photo mediaType="{media_type}">{encoded}</photo>',
        sample_text(),
        flags=re.DOTALL,
    )
    return text.encode()


def with_card(data: bytes, media_type: str, file_name: str = "card.pdf") -> bytes:
    """The photo sample with a fingerprint card after the photo."""
    encoded = base64.b64encode(data).decode()
    card = (
        f'<fingerprintCard mediaType="{media_type}" fileName="{file_name}">'
        f"{encoded}</fingerprintCard>"
    )
    return sample_text().replace("</photo>", "</photo>\n      " + card, 1).encode()


def image_bytes(
    mode: str, size: tuple[int, int], fmt: str, noise: bool = False, **save: object
) -> bytes:
    """A real image file; with ``noise``, random pixels (so the data is not tiny)."""
    colour = {"CMYK": (0, 128, 255, 0), "RGB": (200, 30, 40), "L": 128}.get(mode, 0)
    image = Image.new(mode, size, colour)
    if noise:
        bands = len(image.getbands())
        image = Image.frombytes(mode, size, random.Random(7).randbytes(size[0] * size[1] * bands))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()
