"""Issue 15's ratios compare a POST with a bare WeasyPrint render of *the same* HTML.

The bench renders that HTML itself (the server runs in another process), so it must build
what the server builds: the signature block, a registration number of the real format and
the registry's letterhead.  It once rendered ``№ BENCH`` without the letterhead's address
lines, a smaller document than the one posted; this test holds the two together.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bench.bench_service import BareRender, as_sender, letter_of, one_page_request, with_new_id
from service.pipeline.rendering import Renderer
from tests.service.conftest import Env

NUMBER = re.compile(r"KZ-MVD-\d{4}-\d{6}")
TIME = re.compile(r"\d\d:\d\d:\d\d")


def normalised(html: str) -> str:
    """The HTML without what differs from one document to the next (number, seconds)."""
    return TIME.sub("hh:mm:ss", NUMBER.sub("KZ-MVD-yyyy-nnnnnn", html))


def test_the_bare_render_renders_the_html_the_server_renders(
    sqlite_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    original = Renderer.pdf_from_html

    def capture(self: Renderer, html: str, **options: Any) -> Any:
        rendered.append(html)
        return original(self, html, **options)

    monkeypatch.setattr(Renderer, "pdf_from_html", capture)
    raw = as_sender(one_page_request(), "KZ-MVD", "BY-MVD")
    response = sqlite_env.post_xml(with_new_id(raw))
    assert response.status_code == 201, response.data
    bare = BareRender(raw, letter_of(sqlite_env.services.database, "KZ-MVD", "BY-MVD"))
    assert NUMBER.search(bare.html) and "Республика Казахстан" in bare.html  # the letterhead
    assert normalised(bare.html) == normalised(rendered[-1])
