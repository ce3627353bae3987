"""The render pipeline, stage by stage: bytes → XML → model → HTML → PDF/A-3.

Each stage is a plain function with typed input and output so that it can be run, timed
and tested on its own (see ``bench/``).
"""

from __future__ import annotations

from .errors import InconsistentDocument
from .model import Document, build
from .rendering import RenderedDocument, Renderer, default_renderer, unprintable_characters
from .xmlinput import DEFAULT_MAX_BYTES, load


def parse_document(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Parse, schema-validate and check posted XML; raise an InputError subclass if bad."""
    return build(load(raw, max_bytes))


def render_document(
    raw: bytes,
    registration_number: str | None = None,
    renderer: Renderer | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> RenderedDocument:
    """The whole unsigned pipeline: bytes → PDF/A-3u with the source XML embedded."""
    renderer = renderer or default_renderer()
    parsed = load(raw, max_bytes)
    unprintable = unprintable_characters(parsed.root, renderer.printable)
    if unprintable:
        raise InconsistentDocument(
            "document contains characters that cannot be printed", unprintable
        )
    doc = build(parsed)
    return renderer.pdf(doc, renderer.html(doc, registration_number), raw, registration_number)
