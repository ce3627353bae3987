# mypy: disallow-untyped-calls=False
"""The visible signature block, drawn so that the signed file stays PDF/A.

pyHanko's default stamp uses the non-embedded Courier font and a semi-transparent
background, neither allowed in PDF/A.  We use :class:`QRStampStyle` with

* an embedded OpenType font (PT Sans from Debian ``fonts-paratype``) through
  :class:`GlyphAccumulatorFactory` — pyHanko 0.38 writes ``/W`` widths in font
  units, which is only right for fonts with ``unitsPerEm`` = 1000, so we check
  that and refuse other fonts instead of producing a non-conforming file;
* no background at all (hence no transparency group or ``/ca`` < 1), a thin
  border, black text;
* a vector QR code (form XObject of filled rectangles) of the verification URL.

Lines are wrapped here (pyHanko's text box does not wrap) using the font's own
advance widths.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import fontTools
from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import BaseStampStyle, QRStampStyle, TextStampStyle
from pyhanko.stamp.base import BaseStamp
from pyhanko.stamp.qr import QRStamp

from .errors import ConfigurationError

DEFAULT_FONT = Path("/usr/share/fonts/truetype/paratype/PTS55F.ttf")
"""PT Sans Regular (ParaType, made for the languages of Russia; unitsPerEm 1000)."""

SIGNED_MARK = "Документ подписан электронной подписью"


@dataclass(frozen=True)
class AppearanceConfig:
    """How the visible block looks."""

    font_path: Path = DEFAULT_FONT
    """OpenType/TrueType font to embed; must exist and have unitsPerEm = 1000."""
    font_size: int = 8
    """Text size in points."""
    leading: int = 10
    """Line distance in points."""
    border_width: int = 1
    """Border line width in points (0 = no border)."""
    qr: bool = True
    """Draw the QR code of the verification URL (when there is one)."""
    padding: int = 4
    """Inner padding in points."""


@dataclass(frozen=True)
class SignatureBlockInfo:
    """Everything printed in the visible block."""

    position: str
    """Position (должность) of the signatory."""
    full_name: str
    """Full name in Cyrillic."""
    full_name_latin: str
    """Full name in Latin script."""
    signing_time: datetime
    """Signing time (identical to the CMS signing-time attribute and ``/M``)."""
    registration_number: str | None
    """Registration number of the document, if known."""
    certificate_serial_hex: str
    certificate_owner: str
    certificate_valid_from: datetime
    certificate_valid_to: datetime
    verification_url: str | None = None
    """URL encoded in the QR code and printed under it."""
    authority: str | None = None
    """Short name of the authority (МВД РК …), printed after the position."""
    extra_lines: tuple[str, ...] = field(default_factory=tuple)
    timezone: str = "UTC"
    """IANA zone of the signing authority's state (``Asia/Almaty``, ``Europe/Minsk``): the
    signing time is printed in it, with its UTC offset."""


PARTY_TIMEZONES: dict[str, str] = {"KZ": "Asia/Almaty", "BY": "Europe/Minsk"}
"""Local time of each Party (by ISO 3166-1 alpha-2 country of the authority)."""


def _date(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%d.%m.%Y")


def local_datetime(dt: datetime, timezone: str) -> str:
    """``02.12.2026 18:05:42 (UTC+05:00)``: local time with its offset, so nobody has to
    guess the zone of a signed letter."""
    local = dt.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return f"{local:%d.%m.%Y %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})"


@lru_cache(maxsize=8)
def _font_metrics(path: str) -> tuple[int, dict[int, int], int]:
    """(unitsPerEm, codepoint → advance width, default width) for ``path``."""
    try:
        # the context manager closes the file even when a table is unreadable
        with TTFont(path, lazy=True) as font:
            upem = int(font["head"].unitsPerEm)
            cmap = font.getBestCmap() or {}
            hmtx = font["hmtx"]
            widths = {cp: int(hmtx[glyph][0]) for cp, glyph in cmap.items()}
            default = int(hmtx[".notdef"][0]) if ".notdef" in hmtx.metrics else upem // 2
    except (OSError, Exception) as exc:  # fontTools raises a variety of types
        raise ConfigurationError(f"cannot load signature font {path}: {exc}") from exc
    return upem, widths, default


def check_font(path: Path) -> None:
    """Refuse a missing font or one whose unitsPerEm is not 1000 (see module doc)."""
    if not path.is_file():
        raise ConfigurationError(
            f"signature font {path} not found (install Debian package fonts-paratype); "
            "refusing to sign with a non-embedded font"
        )
    upem, _, _ = _font_metrics(str(path))
    if upem != 1000:
        raise ConfigurationError(
            f"signature font {path} has unitsPerEm={upem}; pyHanko 0.38 writes wrong "
            "glyph widths for such fonts (PDF/A rule 6.2.11.5). Use PT Sans/PT Serif."
        )


FONT_REPERTOIRE: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00BB),  # NBSP, « », °, §, ·
    (0x0400, 0x045F),  # Russian, Belarusian (і ў), Ukrainian, Serbian…
    (0x0490, 0x0493),  # Ґ ґ Ғ ғ
    (0x049A, 0x049B),  # Қ қ
    (0x04A2, 0x04A3),  # Ң ң
    (0x04AE, 0x04B1),  # Ү ү Ұ ұ
    (0x04BA, 0x04BB),  # Һ һ
    (0x04D8, 0x04D9),  # Ә ә
    (0x04E8, 0x04E9),  # Ө ө
    (0x2010, 0x2026),  # dashes, quotes, bullets, ellipsis
    (0x2116, 0x2116),  # №
)
"""Characters kept in the prepared font; others are drawn as .notdef."""

FONT_CACHE_ENV = "MIGDOCS_FONT_CACHE"


@lru_cache(maxsize=8)
def prepared_font(path: str) -> str:
    """A reduced copy of the font, made once and cached on disk.

    pyHanko loads and subsets the whole font for every signature (~100 ms for
    PT Sans, most of it parsing the OpenType layout tables).  A copy reduced to
    :data:`FONT_REPERTOIRE` without layout features (no ligatures or kerning
    are needed for this block) makes that a few milliseconds.  The embedded
    result is still a subset of the original font program.
    """
    source = Path(path)
    check_font(source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache_dir = Path(
        os.environ.get(FONT_CACHE_ENV) or Path(tempfile.gettempdir()) / "migdocs-fonts"
    )
    target = cache_dir / f"{source.stem}-{digest}-ft{fontTools.version}.ttf"
    if target.is_file():
        return str(target)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        options = ft_subset.Options()
        options.layout_features = []
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        options.hinting = False
        # load_font keeps the source file open until close(): a leaked handle otherwise
        with ft_subset.load_font(str(source), options) as font:
            subsetter = ft_subset.Subsetter(options)
            subsetter.populate(
                unicodes=[cp for lo, hi in FONT_REPERTOIRE for cp in range(lo, hi + 1)]
            )
            subsetter.subset(font)
            fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                font.save(fh)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot prepare signature font cache in {cache_dir}: {exc}"
        ) from exc
    return str(target)


@lru_cache(maxsize=8)
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


@dataclass(frozen=True)
class InMemoryFontFactory(GlyphAccumulatorFactory):
    """GlyphAccumulatorFactory reading the font from an in-memory copy.

    pyHanko's factory opens the font file for every signature and never closes
    it (a leaked file handle per signature).
    """

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(_font_bytes(self.font_file)),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


def text_width(text: str, font_path: Path, size: float) -> float:
    upem, widths, default = _font_metrics(str(font_path))
    return sum(widths.get(ord(ch), default) for ch in text) * size / upem


def wrap(text: str, max_width: float, font_path: Path, size: float) -> list[str]:
    """Greedy word wrap by measured width; over-long words are split by characters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, font_path, size) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while text_width(word, font_path, size) > max_width and len(word) > 1:
            cut = len(word)
            while cut > 1 and text_width(word[:cut], font_path, size) > max_width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines or [""]


def initials_and_surname(full_name: str) -> str:
    """«Ахметов Ержан Серикович» → «Е.С. Ахметов», as a letter's signature line has it."""
    surname, *given = full_name.split()
    initials = "".join(f"{name[0]}." for name in given if name)
    return f"{initials} {surname}" if initials else surname


def block_lines(info: SignatureBlockInfo) -> list[str]:
    """The logical lines of the block, before wrapping."""
    position = f"{info.position} {info.authority}" if info.authority else info.position
    lines = [
        SIGNED_MARK,
        position,
        f"{info.full_name} ({info.full_name_latin})",
        f"Дата подписания: {local_datetime(info.signing_time, info.timezone)}",
        f"Регистрационный номер: {info.registration_number or '—'}",
        f"Сертификат: {info.certificate_serial_hex}",
        f"Владелец: {info.certificate_owner}",
        f"Действителен: с {_date(info.certificate_valid_from)} "
        f"по {_date(info.certificate_valid_to)}",
    ]
    if info.verification_url:
        lines.append(f"Проверка: {info.verification_url}")
    lines.extend(info.extra_lines)
    return lines


class _FastQRStamp(QRStamp):
    """QR stamp with a fixed mask pattern.

    ``qrcode`` otherwise tries all 8 masks to pick the best (~6 ms in pure
    Python); any mask gives a valid code, and our short URLs read fine with mask 0.
    """

    def _qr_xobject(self) -> tuple[Any, int]:
        import qrcode
        from pyhanko.pdf_utils.qr import PdfStreamQRImage
        from pyhanko.pdf_utils.writer import init_xobject_dictionary

        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=0)
        qr.add_data(self.url)
        qr.make()
        img = qr.make_image(image_factory=PdfStreamQRImage)
        bbox_size = (qr.modules_count + 2 * qr.border) * qr.box_size
        xobj = init_xobject_dictionary(img.render_command_stream(), bbox_size, bbox_size)
        xobj.compress()
        assert self.writer is not None
        return self.writer.add_object(xobj), bbox_size


@dataclass(frozen=True)
class FastQRStampStyle(QRStampStyle):
    """:class:`QRStampStyle` producing :class:`_FastQRStamp` stamps."""

    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> QRStamp:
        try:
            url = text_params.pop("url")
        except KeyError:
            raise layout.LayoutError("a QR stamp needs a 'url' text parameter") from None
        return _FastQRStamp(writer, style=self, url=url, text_params=text_params, box=box)


class _EmptyStamp(BaseStamp):
    """An appearance stream that draws nothing (``q Q``)."""

    def _render_inner_content(self) -> list[bytes]:
        return []


@dataclass(frozen=True)
class EmptyStampStyle(BaseStampStyle):
    """Widget appearance for a block already drawn in the page content."""

    border_width: int = 0
    background: Any = None

    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> BaseStamp:
        return _EmptyStamp(writer, style=self, box=box)


EMPTY_APPEARANCE = EmptyStampStyle()


def build_stamp(
    info: SignatureBlockInfo, box_width: float, box_height: float, config: AppearanceConfig
) -> tuple[BaseStampStyle, dict[str, str]]:
    """The pyHanko stamp style and text parameters for a block of the given size."""
    check_font(config.font_path)
    use_qr = config.qr and bool(info.verification_url)
    qr_size = 0.0
    if use_qr:
        qr_size = max(40.0, min(box_height - 2 * config.padding, box_width * 0.3))
    text_room = box_width - 2 * config.padding - (qr_size + 2 * config.padding if use_qr else 0)
    lines: list[str] = []
    for line in block_lines(info):
        lines.extend(wrap(line, text_room, config.font_path, config.font_size))
    text = "\n".join(lines)
    font = InMemoryFontFactory(prepared_font(str(config.font_path)), font_size=config.font_size)
    text_style = TextBoxStyle(
        font=font, font_size=config.font_size, leading=config.leading, border_width=0
    )
    # '%' in user data must not be taken for a template placeholder: all
    # content goes through one parameter.
    common: dict[str, Any] = {
        "border_width": config.border_width,
        "background": None,
        "text_box_style": text_style,
        "stamp_text": "%(block)s",
        "timestamp_format": "%Y-%m-%d %H:%M:%S",
    }
    if use_qr:
        assert info.verification_url is not None
        style: BaseStampStyle = FastQRStampStyle(
            **common,
            innsep=config.padding,
            qr_inner_size=round(qr_size),
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MID,
                margins=layout.Margins.uniform(config.padding),
            ),
        )
        return style, {"block": text, "url": info.verification_url}
    style = TextStampStyle(
        **common,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(config.padding),
        ),
    )
    return style, {"block": text}
