"""Explicit budgets of one document: what the service accepts, renders and signs.

Every limit is a typed setting (:class:`service.config.Settings`) a user can read in the
README.  Countable limits (XML size, persons, image pixels, a lower bound of the pages) are
checked before rendering; the page count and the render time are checked again after
WeasyPrint's layout, before any PDF is written.
"""

from __future__ import annotations

from dataclasses import dataclass

MEBIBYTE = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Budgets of one document; the defaults are the published ones."""

    max_xml_bytes: int = 16 * MEBIBYTE
    """Largest XML document (bytes); larger gets 413 before parsing."""
    max_persons: int = 100
    """Most persons one document may list."""
    max_pages: int = 200
    """Most pages a rendered document may have."""
    max_image_pixels: int = 24_000_000
    """Most pixels (width × height) of one photo or fingerprint-card image."""
    max_total_image_pixels: int = 240_000_000
    """Most pixels of all images of one document together."""
    max_render_seconds: float = 60.0
    """Longest layout of one document; a longer one is refused, not signed."""


DEFAULT_LIMITS = Limits()

MAX_CHARS_PER_PAGE = 6000
"""More printed characters than fit on any page of ours (12 pt text, 10.5 pt tables hold
~2,000–4,500 per A4 page): ``characters / MAX_CHARS_PER_PAGE`` is a lower bound of the page
count, used to refuse a hopeless document before it is laid out."""
