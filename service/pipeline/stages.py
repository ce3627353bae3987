"""The render pipeline, stage by stage: bytes → XML → model → HTML → PDF/A-3.

Each stage is a plain function with typed input and output so that it can be run, timed
and tested on its own (see ``bench/``).  :func:`intake` is every check the service makes
before it takes a registration number; ``migdocs validate`` runs the same function, so
the command and the service never disagree about a document.
"""

from __future__ import annotations

import dataclasses

from lxml import etree

from service.errors import InconsistentDocument, LimitExceeded, Violation
from service.pipeline.document import Document
from service.pipeline.limits import DEFAULT_LIMITS, MAX_CHARS_PER_PAGE, Limits
from service.pipeline.reading import build
from service.pipeline.rendering import (
    RenderedDocument,
    Renderer,
    default_renderer,
    unprintable_characters,
)
from service.pipeline.xmlinput import DEFAULT_MAX_BYTES, load


def intake(
    raw: bytes, printable: frozenset[int], limits: Limits = DEFAULT_LIMITS
) -> tuple[Document, etree._Element]:
    """Parse, schema-validate, check printability, decode images, apply the limits.

    Returns the typed document and its XML root (for line numbers of later checks);
    raises an :class:`~service.errors.InputError` subclass for any document the service
    would refuse before rendering.
    """
    parsed = load(raw, limits.max_xml_bytes)
    unprintable = unprintable_characters(parsed.root, printable)
    if unprintable:
        raise InconsistentDocument(
            "document contains characters that cannot be printed", unprintable
        )
    check_page_estimate(parsed.root, limits)
    return build(parsed, limits), parsed.root


def check_page_estimate(root: etree._Element, limits: Limits) -> None:
    """Refuse a document whose text alone needs more than ``max_pages`` pages."""
    characters = sum(
        len(elem.text or "")
        for elem in root.iter()
        if isinstance(elem.tag, str) and not elem.get("mediaType")
    )
    at_least = -(-characters // MAX_CHARS_PER_PAGE)
    if at_least > limits.max_pages:
        raise LimitExceeded(
            f"the document would have at least {at_least} pages; the limit is {limits.max_pages}",
            (
                Violation(
                    None,
                    "/",
                    f"{characters} characters of text need more than {limits.max_pages} "
                    "pages; split the document",
                ),
            ),
        )


def parse_document(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Parse, schema-validate and check posted XML; raise an InputError subclass if bad.

    No font is consulted: use :func:`intake` for the service's full set of checks.
    """
    limits = Limits(max_xml_bytes=max_bytes)
    return build(load(raw, max_bytes), limits)


def render_document(
    raw: bytes,
    registration_number: str | None = None,
    renderer: Renderer | None = None,
    max_bytes: int | None = None,
) -> RenderedDocument:
    """The whole unsigned pipeline: bytes → PDF/A-3u with the source XML embedded.

    The renderer's limits apply (``max_bytes`` overrides their XML size).
    """
    renderer = renderer or default_renderer()
    limits = renderer.limits
    if max_bytes is not None:
        limits = dataclasses.replace(limits, max_xml_bytes=max_bytes)
    doc, _ = intake(raw, renderer.printable, limits)
    return renderer.pdf(doc, renderer.html(doc, registration_number), raw, registration_number)
