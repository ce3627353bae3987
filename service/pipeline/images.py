"""Binary content of a document (photos, fingerprint cards) checked by a real decoder.

A photo is printed, so it must decode: its size is read from the file header first and
checked against the pixel cap *before* Pillow allocates anything, then it is decoded in
full (a truncated or disguised file fails here, not silently in WeasyPrint, which would
print the alt text instead).  What is printed is normalised for PDF/A: CMYK and other
exotic modes become sRGB, and very large photos are scaled down to what a 24×32 mm box
can show.  A fingerprint card travels as an attachment: an image card must decode the
same way, a PDF card must parse as a PDF.
"""

from __future__ import annotations

import io
import struct
import threading
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageFile

from service.errors import BadImage, LimitExceeded, Violation
from service.pipeline.limits import Limits
from signing.untrusted import untrusted_reader

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
PDF_MAGIC = b"%PDF-"
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
"""Media type → Pillow format name."""
PRINTABLE_MODES = {
    "JPEG": frozenset({"L", "RGB"}),
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA"}),
}
"""Modes WeasyPrint embeds as DeviceGray/DeviceRGB (or indexed) under the sRGB intent."""
MAX_DECODED_BYTES = 128 * 1024 * 1024
"""Memory one decoded image may take (Pillow holds at most 4 bytes per pixel)."""
MAX_PHOTO_SIDE = 2000
"""Longer photos are scaled down before printing: the photo box is 24×32 mm, and 2000 px
is ~1600 dpi there.  The XML embedded in the PDF keeps the original."""
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Where:
    """The element holding the content, for messages."""

    line: int | None
    path: str


def header_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height from the file header, without decoding; ``None`` if unreadable."""
    if media_type == "image/png":
        if data[:8] != PNG_MAGIC or data[12:16] != b"IHDR" or len(data) < 24:
            return None
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if media_type == "image/jpeg":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Scan JPEG markers up to the first start-of-frame segment."""
    if not data.startswith(JPEG_MAGIC):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if length < 2:
            return None
        pos += 2 + length
    return None


def check_size(data: bytes, media_type: str, where: Where, limits: Limits) -> int:
    """Pixels of the image per its header; refuse an unreadable or oversized header."""
    kind = FORMATS[media_type]
    size = header_size(data, media_type)
    if size is None:
        raise BadImage(
            f"content is not a {kind} image",
            (
                Violation(
                    where.line,
                    where.path,
                    f"the data is not a readable {kind} file although mediaType says {media_type}",
                ),
            ),
        )
    width, height = size
    pixels = width * height
    if pixels == 0 or pixels > limits.max_image_pixels:
        raise LimitExceeded(
            f"image of {width}×{height} pixels is beyond the limit",
            (
                Violation(
                    where.line,
                    where.path,
                    f"the image is {width}×{height} = {pixels} pixels; "
                    f"at most {limits.max_image_pixels} pixels are accepted",
                ),
            ),
        )
    return pixels


def decode(data: bytes, media_type: str, where: Where, limits: Limits) -> Image.Image:
    """Decode the whole image (sizes were checked by :func:`check_size`)."""
    kind = FORMATS[media_type]
    check_size(data, media_type, where, limits)
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        if image.size != header_size(data, media_type):
            raise ValueError("size differs from the header")
        bands = len(image.getbands()) * (4 if image.mode in ("I", "F") else 1)
        if image.width * image.height * bands > MAX_DECODED_BYTES:
            raise ValueError("decoded image too large")
        _load_strictly(image)
    # Hostile data can make a decoder raise almost anything (OSError, SyntaxError,
    # struct.error, ValueError, EOFError …); each means "does not decode".
    except Exception as exc:
        raise BadImage(
            f"{kind} image does not decode",
            (
                Violation(
                    where.line,
                    where.path,
                    f"the {kind} image is damaged or not a {kind} file ({_reason(exc)})",
                ),
            ),
        ) from None
    return image


_strict = threading.Lock()


def _load_strictly(image: Image.Image) -> None:
    """Decode every pixel; a truncated or corrupt stream raises.

    WeasyPrint sets Pillow's process-wide ``LOAD_TRUNCATED_IMAGES`` at import, which makes
    Pillow fill a truncated image with grey and ignore decoder errors.  It is switched off
    while we decode; a render meanwhile only reads images that passed this check.
    """
    with _strict:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def printable_photo(data: bytes, media_type: str, where: Where, limits: Limits) -> bytes:
    """The photo as it will be printed: decoded, in sRGB, at most :data:`MAX_PHOTO_SIDE`."""
    image = decode(data, media_type, where, limits)
    kind = FORMATS[media_type]
    converted = image
    if image.mode not in PRINTABLE_MODES[kind]:
        converted = _to_srgb(image)
    if max(converted.size) > MAX_PHOTO_SIDE:
        converted = converted.copy() if converted is image else converted
        converted.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE), Image.Resampling.LANCZOS)
    if converted is image:
        return data
    buffer = io.BytesIO()
    if kind == "JPEG":
        converted.convert("RGB").save(buffer, format="JPEG", quality=92)
    else:
        converted.save(buffer, format="PNG")
    return buffer.getvalue()


def _to_srgb(image: Image.Image) -> Image.Image:
    """Any mode → RGB (RGBA if it has alpha), through its ICC profile when it carries one."""
    target = "RGBA" if "A" in image.getbands() else "RGB"
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("CMYK", "RGB", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            result = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if result is not None:
                return result
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to Pillow's plain conversion
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert(target)


def check_card(data: bytes, media_type: str, where: Where, limits: Limits) -> None:
    """A fingerprint card is what its media type says: a decodable image or a PDF."""
    if media_type in FORMATS:
        decode(data, media_type, where, limits)
    elif media_type == "application/pdf":
        check_pdf(data, where)


def check_pdf(data: bytes, where: Where) -> None:
    """Magic bytes, then a parse of the cross-reference table and the page tree's root.

    The card is at most 5 MiB (schema) and pyHanko's reader is linear in its size, so the
    parse is bounded; the page tree is not walked.
    """

    if not data.startswith(PDF_MAGIC) or b"%%EOF" not in data[-1024:]:
        raise BadImage(
            "fingerprint card is not a PDF",
            (
                Violation(
                    where.line,
                    where.path,
                    "mediaType says application/pdf but the data "
                    "does not start with %PDF- and end with %%EOF",
                ),
            ),
        )
    try:
        reader = untrusted_reader(data)
        pages = reader.root["/Pages"]
        count = int(pages["/Count"])
        if count < 1:
            raise ValueError("the PDF has no pages")
    except Exception as exc:
        raise BadImage(
            "fingerprint card is not a readable PDF",
            (Violation(where.line, where.path, f"the PDF does not parse ({_reason(exc)})"),),
        ) from None
