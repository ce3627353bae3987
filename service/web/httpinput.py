"""Small, strict readers of what an HTTP client sends besides the body.

- integers in the query string or the path: ASCII digits only (``str.isdigit`` accepts
  ``²`` and ``int`` then fails; ``int`` accepts ``١٢`` and ``_``);
- ``X-Request-Id``: kept only when short and printable ASCII, else replaced;
- the ``charset`` parameter of an XML ``Content-Type``: it must agree with the encoding
  the document itself declares (BOM or XML declaration), else 415.
"""

from __future__ import annotations

import codecs
import re
import uuid

from service.errors import InputError, UnsupportedMediaType, Violation

_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,64}")
MAX_REQUEST_ID = 64

_XML_DECLARATION = re.compile(
    rb"""^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,39})["']"""
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def ascii_int(value: str) -> int | None:
    """``value`` as a non-negative integer if it is 1–18 ASCII digits, else ``None``."""
    return int(value) if _ASCII_DIGITS.fullmatch(value) else None


def int_param(name: str, value: str | None, default: int, maximum: int) -> int:
    """A query parameter from 1 to ``maximum``; :class:`InputError` (400) naming it."""
    if value is None:
        return default
    number = ascii_int(value)
    if number is None or not 1 <= number <= maximum:
        raise InputError(
            f"query parameter {name} must be a number from 1 to {maximum} (ASCII digits)",
            (Violation(None, f"?{name}", f"{value[:40]!r} is not a number from 1 to {maximum}"),),
        )
    return number


def request_id(presented: str | None) -> str:
    """The client's ``X-Request-Id`` if it is 1–64 printable ASCII characters, else a new one."""
    if presented is not None and _REQUEST_ID.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip().strip('"')).name
    except LookupError:
        return None


def declared_xml_encoding(raw: bytes) -> str:
    """The encoding ``raw`` declares for itself: BOM, then XML declaration, else UTF-8."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    match = _XML_DECLARATION.match(raw[:200])
    if match is None:
        return "utf-8"
    return _codec_name(match.group(1).decode("ascii")) or match.group(1).decode("ascii").lower()


def check_xml_charset(charset: str | None, raw: bytes) -> None:
    """Refuse (415) a ``charset`` parameter that is unknown or disagrees with the XML.

    Without the parameter the document's own declaration rules (RFC 7303 §3.2 fallback).
    """
    if charset is None:
        return
    declared_by_client = _codec_name(charset)
    if declared_by_client is None:
        raise UnsupportedMediaType(
            f"Content-Type names an unknown charset {charset[:40]!r}; send charset=utf-8 "
            "or leave the parameter out",
            (Violation(None, "Content-Type; charset", "unknown charset"),),
        )
    declared_by_xml = declared_xml_encoding(raw)
    if declared_by_client != declared_by_xml and not (
        declared_by_client.startswith("utf-16") and declared_by_xml == "utf-16"
    ):
        raise UnsupportedMediaType(
            f"Content-Type says charset={charset[:40]} but the XML document is "
            f"{declared_by_xml} (its BOM or XML declaration); make them agree (UTF-8 is best)",
            (
                Violation(
                    1,
                    "/",
                    f"XML declares {declared_by_xml}, Content-Type declares {declared_by_client}",
                ),
            ),
        )
